"""What changed in a berth's database against its template, a baseline or another berth.

Schema: tables and columns added, removed or changed, and the indexes,
constraints, views, functions and triggers apps change. Data: per table with
a primary key, the rows inserted, updated and deleted, matched by that key.
Migration tools' own version tables are bookkeeping, left out unless asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from psycopg import sql

from berth.pg import admin
from berth.pg.server import Server

# Schema "berth" holds berth's own bookkeeping (migration checksums), not the app's data.
_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.is_nullable
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type = 'BASE TABLE'
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema', 'berth')
ORDER BY 1, 2, c.ordinal_position
"""

_PRIMARY_KEYS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'berth')
ORDER BY 1, 2, k.ord
"""

# Each schema object by name, with the definition Postgres gives back for it.
_OBJECTS = {
    "indexes": """
        SELECT n.nspname || '.' || c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT i.indisprimary AND {apps}""",
    "constraints": """
        SELECT n.nspname || '.' || t.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE k.contype <> 'p' AND {apps}""",
    "views": """
        SELECT n.nspname || '.' || c.relname, pg_get_viewdef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {apps}
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')""",
    "functions": """
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
            || ')', md5(p.prosrc || coalesce(pg_get_function_result(p.oid), ''))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p') AND {apps}
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""",
    "triggers": """
        SELECT n.nspname || '.' || c.relname || '.' || g.tgname, pg_get_triggerdef(g.oid)
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT g.tgisinternal AND {apps}""",
}
_APPS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'berth', 'pg_toast')"
# The version tables migration tools keep (and berth's runner's): bookkeeping.
BOOKKEEPING = frozenset(
    {
        "schema_migrations",
        "ar_internal_metadata",
        "goose_db_version",
        "alembic_version",
        "django_migrations",
        "flyway_schema_history",
        "_prisma_migrations",
        "__drizzle_migrations",
        "berth_schema_migrations",
    }
)

Table = tuple[str, str]
Side = tuple[str, str]


def _objects(db: admin.Conn, kind: str, bookkeeping: bool) -> dict[str, str]:
    query = _OBJECTS[kind].replace("{apps}", _APPS)
    found = {str(name).removeprefix("public."): str(text) for name, text in db.execute(query)}
    if bookkeeping:
        return found
    # A version table's own indexes, constraints and triggers are bookkeeping too.
    return {
        name: text
        for name, text in found.items()
        if not any(f".{t} " in f".{name} {text} " or f" {t} " in text for t in BOOKKEEPING)
    }


@contextlib.contextmanager
def readable(conn: admin.Conn, database: str) -> Iterator[None]:
    """Let berth read a template or baseline (they refuse connections) for a moment."""
    row = conn.execute(
        "SELECT datallowconn FROM pg_database WHERE datname = %s", (database,)
    ).fetchone()
    closed = row is not None and not row[0]
    ident = sql.Identifier(database)
    if closed:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
    try:
        yield
    finally:
        if closed:
            admin.terminate(conn, database=database)
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))


def table_columns(db: admin.Conn) -> dict[Table, dict[str, tuple[str, str]]]:
    tables: dict[Table, dict[str, tuple[str, str]]] = {}
    for schema, table, column, kind, nullable in db.execute(_COLUMNS).fetchall():
        tables.setdefault((schema, table), {})[column] = (kind, nullable)
    return tables


def primary_keys(db: admin.Conn) -> dict[Table, list[str]]:
    keys: dict[Table, list[str]] = {}
    for schema, table, column in db.execute(_PRIMARY_KEYS).fetchall():
        keys.setdefault((schema, table), []).append(column)
    return keys


def row_hashes(db: admin.Conn, table: Table, key: list[str], columns: list[str]) -> dict[str, str]:
    query = sql.SQL("SELECT ({})::text, md5(({})::text) FROM {}").format(
        sql.SQL("ROW({})").format(sql.SQL(", ").join(map(sql.Identifier, key)))
        if len(key) > 1
        else sql.Identifier(key[0]),
        sql.SQL("ROW({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))),
        sql.Identifier(*table),
    )
    return {str(k): str(h) for k, h in db.execute(query).fetchall()}


def table_name(table: Table) -> str:
    return table[1] if table[0] == "public" else f"{table[0]}.{table[1]}"


def compare(
    server: Server, current: Side, other: Side, *, bookkeeping: bool = False
) -> dict[str, Any]:
    """Differences of database ``current`` against database ``other``.

    Each side is ``(database, the role that owns what is inside it)``. Both
    are read as throw-away roles with that owner's rights, never as the
    admin: a berth's role or a branch's migration may have left a trap (a
    cast, a policy, a function) for whoever reads its tables.
    """
    with (
        server.connect() as conn,
        readable(conn, other[0]),
        admin.reader(conn, server, *current) as mine,
        admin.reader(conn, server, *other) as theirs,
    ):
        return _compare(mine, theirs, bookkeeping)


def _compare(mine: admin.Conn, theirs: admin.Conn, bookkeeping: bool) -> dict[str, Any]:
    now, before = table_columns(mine), table_columns(theirs)
    if not bookkeeping:
        now = {t: c for t, c in now.items() if t[1] not in BOOKKEEPING}
        before = {t: c for t, c in before.items() if t[1] not in BOOKKEEPING}
    schema: dict[str, list[str]] = {
        "tables_added": sorted(table_name(t) for t in now.keys() - before.keys()),
        "tables_removed": sorted(table_name(t) for t in before.keys() - now.keys()),
        "columns_added": [],
        "columns_removed": [],
        "columns_changed": [],
    }
    rows: dict[str, dict[str, int]] = {}
    keys = primary_keys(mine)
    their_keys = primary_keys(theirs)
    for table in sorted(now.keys() & before.keys()):
        cols_now, cols_before = now[table], before[table]
        label = table_name(table)
        schema["columns_added"] += [f"{label}.{c}" for c in cols_now if c not in cols_before]
        schema["columns_removed"] += [f"{label}.{c}" for c in cols_before if c not in cols_now]
        schema["columns_changed"] += [
            f"{label}.{c}" for c in cols_now if c in cols_before and cols_now[c] != cols_before[c]
        ]
        key = keys.get(table)
        if not key or key != their_keys.get(table):
            continue
        common = [c for c in cols_now if c in cols_before]
        a, b = row_hashes(mine, table, key, common), row_hashes(theirs, table, key, common)
        changes = {
            "inserted": len(a.keys() - b.keys()),
            "deleted": len(b.keys() - a.keys()),
            "updated": sum(1 for k in a.keys() & b.keys() if a[k] != b[k]),
        }
        if any(changes.values()):
            rows[label] = changes
    for kind in _OBJECTS:
        a, b = _objects(mine, kind, bookkeeping), _objects(theirs, kind, bookkeeping)
        schema[f"{kind}_added"] = sorted(a.keys() - b.keys())
        schema[f"{kind}_removed"] = sorted(b.keys() - a.keys())
        schema[f"{kind}_changed"] = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    for table in sorted(now.keys() - before.keys()):
        key = keys.get(table)
        if key:
            count = mine.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table)))
            inserted = int(count.fetchone()[0])  # type: ignore[index]
            if inserted:
                rows[table_name(table)] = {"inserted": inserted, "deleted": 0, "updated": 0}
    return {"schema": schema, "rows": rows}


def describe(against: str, schema: dict[str, Any], rows: dict[str, Any]) -> list[str]:
    """A diff as lines to read: what it is against, each schema change, each table's rows."""
    lines = [f"against {against}:"]
    for key, items in schema.items():
        lines += [f"  {key.replace('_', ' ')}: {item}" for item in items]
    for table, change in rows.items():
        lines.append(
            f"  {table}: +{change['inserted']} ~{change['updated']} -{change['deleted']} rows"
        )
    if len(lines) == 1:
        lines.append("  no changes")
    return lines

"""The rows a berth changed since its start (template or baseline), as SQL for another berth.

Per table with a primary key in both: rows deleted or updated since the start
are deleted by key, rows inserted or updated are inserted whole (from their
JSON, so every column type round-trips). Deletes run children first and
inserts parents first, by the foreign keys. Tables without a primary key
cannot be matched row by row: they are named, not carried. Both databases are
read as throw-away roles with their owners' rights, never as the admin.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from berth.pg import admin
from berth.pg.diff import (
    BOOKKEEPING,
    Side,
    Table,
    primary_keys,
    readable,
    row_hashes,
    table_columns,
    table_name,
)
from berth.pg.server import Server

_REFERENCES = """
SELECT cn.nspname, c.relname, fn.nspname, f.relname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_class f ON f.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
WHERE k.contype = 'f'
"""


def script(server: Server, current: Side, start: Side) -> tuple[list[str], dict[str, Any]]:
    """``(statements, summary)``: SQL carrying ``current``'s row changes since ``start``."""
    with (
        server.connect() as conn,
        readable(conn, start[0]),
        admin.reader(conn, server, *current) as mine,
        admin.reader(conn, server, *start) as theirs,
    ):
        return _script(mine, theirs)


def _script(mine: admin.Conn, theirs: admin.Conn) -> tuple[list[str], dict[str, Any]]:
    now, before = table_columns(mine), table_columns(theirs)
    keys, their_keys = primary_keys(mine), primary_keys(theirs)
    order = _parents_first(mine, [t for t in now if t[1] not in BOOKKEEPING])
    deletes: list[str] = []
    inserts: list[str] = []
    summary: dict[str, Any] = {"tables": {}, "not_carried": []}
    for table in order:
        key = keys.get(table)
        if not key:
            if _has_rows(mine, table) or _has_rows(theirs, table, table in before):
                summary["not_carried"].append(table_name(table))
            continue
        common = [c for c in now[table] if c in before.get(table, {})]
        a = row_hashes(mine, table, key, common or list(now[table]))
        same_key = table in before and their_keys.get(table) == key and common
        b = row_hashes(theirs, table, key, common) if same_key else {}
        gone = sorted(b.keys() - a.keys())
        changed = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        new = sorted(a.keys() - b.keys())
        if not (gone or changed or new):
            continue
        summary["tables"][table_name(table)] = {
            "inserted": len(new),
            "updated": len(changed),
            "deleted": len(gone),
        }
        deletes[:0] = [_delete(mine, table, key, k) for k in [*gone, *changed]]
        inserts += _inserts(mine, table, key, [*changed, *new])
    return [*deletes, *inserts], summary


def _key_expr(key: list[str]) -> sql.Composable:
    if len(key) == 1:
        return sql.SQL("({})::text").format(sql.Identifier(key[0]))
    return sql.SQL("(ROW({}))::text").format(sql.SQL(", ").join(map(sql.Identifier, key)))


def _delete(db: admin.Conn, table: Table, key: list[str], value: str) -> str:
    return (
        sql.SQL("DELETE FROM {} WHERE {} = {};")
        .format(sql.Identifier(*table), _key_expr(key), sql.Literal(value))
        .as_string(db)
    )


def _inserts(db: admin.Conn, table: Table, key: list[str], values: list[str]) -> list[str]:
    if not values:
        return []
    rows = db.execute(
        sql.SQL("SELECT to_jsonb(t)::text FROM {} AS t WHERE {} = ANY(%s) ORDER BY 1").format(
            sql.Identifier(*table), _key_expr(key)
        ),
        (values,),
    ).fetchall()
    return [
        sql.SQL("INSERT INTO {} SELECT * FROM jsonb_populate_record(NULL::{}, {}::jsonb);")
        .format(sql.Identifier(*table), sql.Identifier(*table), sql.Literal(row[0]))
        .as_string(db)
        for row in rows
    ]


def _has_rows(db: admin.Conn, table: Table, there: bool = True) -> bool:
    if not there:
        return False
    found = db.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(*table)))
    return found.fetchone() is not None


def _parents_first(db: admin.Conn, tables: list[Table]) -> list[Table]:
    """``tables`` ordered so that a table comes after the tables it references."""
    refs: dict[Table, set[Table]] = {t: set() for t in tables}
    for schema, name, fschema, fname in db.execute(_REFERENCES).fetchall():
        child, parent = (schema, name), (fschema, fname)
        if child in refs and parent in refs and child != parent:
            refs[child].add(parent)
    done: list[Table] = []
    seen: set[Table] = set()

    def visit(table: Table, path: frozenset[Table]) -> None:
        if table in seen or table in path:  # a cycle: the order is as good as it gets
            return
        for parent in sorted(refs[table]):
            visit(parent, path | {table})
        seen.add(table)
        done.append(table)

    for table in sorted(refs):
        visit(table, frozenset())
    return done

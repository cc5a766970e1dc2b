"""berth's side table of migration checksums, for tools whose version table has none.

The first time berth sees a migration applied it records the file's sha256;
a different checksum later means the file was edited after it was applied.
The table lives in its own schema, ``berth``, so schema dumps and ORM
autogenerate (alembic, rails ``schema.rb``), which look at ``public``, never
see it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors, sql

from berth.migrations.status import Observation

Conn = psycopg.Connection[Any]
SCHEMA = "berth"
TABLE = "berth_migration_checksums"
# A role that may not create the schema or write the table still gets a
# status, only without edited-after-apply detection.
_NOT_ALLOWED = (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction)


def _table() -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(TABLE))


def ensure_table(conn: Conn) -> None:
    if _exists(conn):
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " tool text NOT NULL,"
                    " version text NOT NULL,"
                    " checksum text NOT NULL,"
                    " seen_at timestamptz NOT NULL DEFAULT now(),"
                    " PRIMARY KEY (tool, version))"
                ).format(_table())
            )
    except errors.UniqueViolation:
        # Another session created it between our check and our CREATE.
        pass


def _exists(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (_table().as_string(conn),)).fetchone()
    return row is not None and row[0] is not None


def remembered(conn: Conn, tool: str) -> dict[str, str]:
    """``{version: checksum}`` berth recorded for ``tool``; empty if it never did."""
    if not _exists(conn):
        return {}
    try:
        found = conn.execute(
            sql.SQL("SELECT version, checksum FROM {} WHERE tool = %s").format(_table()), (tool,)
        ).fetchall()
    except _NOT_ALLOWED:
        return {}
    return {str(version): str(checksum) for version, checksum in found}


def remember(conn: Conn, tool: str, seen: Observation) -> dict[str, str]:
    """Record first-seen checksums of applied files, forget unapplied ones; return them all."""
    if seen.recorded is not None:
        return {}  # the tool keeps its own checksums
    applied = [e for e in seen.entries if e.key in seen.applied]
    try:
        ensure_table(conn)
        with conn.transaction():
            if not seen.uncertain:
                # Rolled back (or never applied here): when it is applied again,
                # the checksum to compare with is the one it is applied with then.
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE tool = %s AND NOT version = ANY(%s)").format(
                        _table()
                    ),
                    (tool, list(seen.applied)),
                )
            if applied:
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (tool, version, checksum)"
                        " SELECT %s, v, c FROM unnest(%s::text[], %s::text[]) AS t(v, c)"
                        " ON CONFLICT (tool, version) DO NOTHING"
                    ).format(_table()),
                    (tool, [e.key for e in applied], [e.checksum for e in applied]),
                )
    except _NOT_ALLOWED:
        pass
    return remembered(conn, tool)

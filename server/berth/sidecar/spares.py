"""Spare databases: copies of a template made ahead of time, so a new berth's database is a rename.

Copying the template (``CREATE DATABASE ... TEMPLATE``) is the slow step of a
warm ``berth up``: it copies files and, with fsync on, syncs them. After the
sidecar provisions a berth from a template it makes one spare copy of that
template in the background; the next berth from it renames the spare into
place and marks it in the same transaction, so a crash never leaves a half
claimed database. A spare remembers its template's OID: a template made anew
under the same name (a baseline replaced) makes its spares stale, and stale
spares are dropped.
"""

from __future__ import annotations

import secrets

from psycopg import errors, sql

from berth.pg import admin, templates
from berth.pg.server import Server

KIND = "spare"


def _source_oid(conn: admin.Conn, source: str) -> int | None:
    row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (source,)).fetchone()
    return int(row[0]) if row else None


def spares(conn: admin.Conn) -> list[tuple[str, str, int | None]]:
    """``(spare, its template, the template's OID when copied)`` for every spare on the server."""
    found = []
    for name, marker in admin.berth_databases(conn):
        if marker.get("kind") == KIND:
            oid = marker.get("source_oid")
            found.append((name, str(marker.get("source")), oid if isinstance(oid, int) else None))
    return found


def claim(conn: admin.Conn, source: str, name: str, owner: str, marker: str) -> bool:
    """Rename a spare copy of ``source`` to ``name``, marked as the berth's; False if none."""
    oid = _source_oid(conn, source)
    for spare, copied_from, copied_oid in spares(conn):
        if copied_from != source or copied_oid != oid:
            continue
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(spare), sql.Identifier(name)
                    )
                )
                admin.mark_database(conn, name, owner, marker)
            return True
        except (errors.InvalidCatalogName, errors.ObjectInUse):
            continue  # another sidecar on this server took it first
    return False


def make(server: Server, source: str, project: str, owner: str, keep: int = 1) -> str | None:
    """A spare copy of ``source`` unless ``keep`` are ready; its name, or None.

    ``owner`` (the berth home's registry key) goes into the name, so the
    sidecar of that home alone may drop the copy if it was never marked.
    """
    with server.connect() as conn:
        oid = _source_oid(conn, source)
        if oid is None:
            return None
        ready = [
            s
            for s, copied_from, copied_oid in spares(conn)
            if (copied_from, copied_oid) == (source, oid)
        ]
        if len(ready) >= keep:
            return None
        name = f"{_prefix(owner)}{secrets.token_hex(6)}"
        marker = admin.make_marker(project, name, kind=KIND, source=source, source_oid=oid)
        reflink = bool(server.cluster and server.cluster.meta().get("reflink"))
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(source)
        )
        strategy = templates.create_strategy(conn, source, reflink)
        if strategy:
            query = sql.SQL("{} STRATEGY {}").format(query, sql.SQL(strategy))
        try:
            conn.execute(query)
        except errors.ObjectInUse:
            return None  # someone is connected to the template: try another time
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(marker)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        return name


def _prefix(owner: str) -> str:
    return f"berth_spare_{owner[:8]}_"


def drop_stale(server: Server, *, all_spares: bool = False, owner: str | None = None) -> list[str]:
    """Drop spares whose template is gone or was made anew (or every spare).

    With ``owner``, also the copies of that home's sidecar that a crash left
    unmarked between ``CREATE DATABASE`` and its comment; only call it so
    while that sidecar makes no spare at the same time.
    """
    dropped: list[str] = []
    with server.connect() as conn:
        if owner is not None:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)"
                " AND shobj_description(oid, 'pg_database') IS NULL",
                (_prefix(owner),),
            ).fetchall()
            for (found,) in rows:
                unmarked = str(found)
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(unmarked)
                    )
                )
                dropped.append(unmarked)
        for spare, source, oid in spares(conn):
            if all_spares or _source_oid(conn, source) != oid:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(spare))
                )
                dropped.append(spare)
    return dropped

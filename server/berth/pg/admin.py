"""Roles and databases on the server, every identifier composed with ``psycopg.sql``.

berth marks each database it makes with a ``COMMENT`` (its ownership
marker) and refuses to rename or drop a database that lacks it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from berth.errors import ConflictError, OwnershipError

if TYPE_CHECKING:
    from berth.pg.server import Server

Conn = psycopg.Connection[Any]
MARKER_PREFIX = "berth:"


def make_marker(project: str, instance: str, **extra: object) -> str:
    return _encode({"berth": 1, "project": project, "id": instance, **extra})


def _encode(data: dict[str, Any]) -> str:
    return MARKER_PREFIX + json.dumps(data, sort_keys=True, separators=(",", ":"))


def parse_marker(comment: str | None) -> dict[str, Any] | None:
    if not comment or not comment.startswith(MARKER_PREFIX):
        return None
    try:
        data = json.loads(comment[len(MARKER_PREFIX) :])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def owner_fields() -> dict[str, Any]:
    """Who makes a build or a role: this process, machine and berth home."""
    from berth.machineid import machine_id
    from berth.settings import load_settings

    settings = load_settings()
    return {
        "pid": os.getpid(),
        "machine": machine_id(settings),
        "registry": settings.registry_key,
    }


def mark_role(conn: Conn, role: str, kind: str, **extra: object) -> None:
    """Mark a role berth made for a while (a builder, a reader): doctor drops a leftover."""
    marker = make_marker("", role, kind=kind, **owner_fields(), **extra)
    conn.execute(
        sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(role), sql.Literal(marker))
    )


def lock_key(text: str) -> int:
    """``text``'s key for a Postgres advisory lock."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def database_exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def role_exists(conn: Conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def marker_of(conn: Conn, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    return parse_marker(row[0]) if row else None


def berth_databases(conn: Conn) -> list[tuple[str, dict[str, Any]]]:
    """Every database on the server that carries a berth marker."""
    rows = conn.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database ORDER BY datname"
    ).fetchall()
    found = []
    for name, comment in rows:
        marker = parse_marker(comment)
        if marker is not None:
            found.append((name, marker))
    return found


def ensure_role(conn: Conn, name: str, password: str) -> None:
    """A LOGIN role with ``password``; an existing one gets the password and LOGIN back."""
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if row is None:
        query = "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
    elif row[0]:
        raise OwnershipError(
            f"role {name!r} is a superuser; berth does not hand out its password",
            hint="rename or drop that role by hand",
        )
    else:
        # Only a superuser may even restate NOSUPERUSER, and the role is not one.
        query = "ALTER ROLE {} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD {}"
    with conn.transaction():  # one commit
        conn.execute(sql.SQL(query).format(sql.Identifier(name), sql.Literal(password)))
        act_as(conn, name)


def act_as(conn: Conn, role: str) -> None:
    """Let a non-superuser admin act as ``role``: REASSIGN OWNED, OWNER TO, terminate.

    Since PostgreSQL 16 a CREATEROLE admin holds only ADMIN OPTION on the roles
    it creates, not their privileges, so it grants itself INHERIT and SET.
    """
    row = conn.execute(
        "SELECT rolsuper, current_setting('server_version_num')::int FROM pg_roles"
        " WHERE rolname = current_user"
    ).fetchone()
    if row is None or row[0]:
        return
    if row[1] >= 160000:
        check = "SELECT pg_has_role(%s, 'USAGE') AND pg_has_role(%s, 'SET')"
        grant = sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE")
    else:
        check = "SELECT pg_has_role(%s, 'USAGE') AND pg_has_role(%s, 'USAGE')"
        grant = sql.SQL("GRANT {} TO CURRENT_USER")
    if conn.execute(check, (role, role)).fetchone() == (True,):
        return
    try:
        conn.execute(grant.format(sql.Identifier(role)))
    except psycopg.errors.InsufficientPrivilege:
        raise OwnershipError(
            f"the admin role may not act as role {role!r}",
            hint=f"as a superuser (or {role}'s creator): GRANT {role} TO <admin role>"
            " WITH INHERIT TRUE, SET TRUE",
        ) from None


def set_login(conn: Conn, name: str, login: bool) -> None:
    if role_exists(conn, name):
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH {}").format(
                sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN")
            )
        )


def drop_role(conn: Conn, name: str) -> None:
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def check_owned(conn: Conn, name: str, instance: str) -> dict[str, Any]:
    marker = marker_of(conn, name)
    if marker is None or marker.get("id") != instance:
        raise OwnershipError(
            f"database {name!r} has no berth marker for {instance}; berth leaves it alone",
            hint="it was not made by this berth; handle it by hand if you mean to",
        )
    return marker


def create_database(
    conn: Conn,
    name: str,
    owner: str,
    marker: str,
    *,
    template: str = "template0",
    strategy: str | None = None,
) -> None:
    """Create ``name`` from ``template``, marked, usable by ``owner``, closed to PUBLIC."""
    query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    if strategy:
        query = sql.SQL("{} STRATEGY {}").format(query, sql.SQL(strategy))
    try:
        conn.execute(query)
    except psycopg.errors.ObjectInUse as exc:
        raise ConflictError(
            f"cannot copy {template!r}: {str(exc).splitlines()[0]}",
            hint="close the sessions connected to it and try again",
        ) from None
    mark_database(conn, name, owner, marker)


def mark_database(conn: Conn, name: str, owner: str, marker: str) -> None:
    """Marker, privileges: the role may connect and create; PUBLIC may not even connect.

    The database itself stays owned by the admin: a berth role then owns no
    shared object, so ``REASSIGN OWNED`` between roles never moves a database.
    """
    ident = sql.Identifier(name)
    with conn.transaction():  # one commit
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(marker)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        conn.execute(
            sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                ident, sql.Identifier(owner)
            )
        )


def set_marker(conn: Conn, name: str, marker: str) -> None:
    conn.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(marker))
    )


def handing(marker: str, previous: str | None) -> str:
    """``marker`` for a copy whose objects ``previous`` still owns: :func:`hand_over` with
    the plain marker completes it. A run cut short in between leaves it so marked, and
    the next ``berth up`` hands it over again (from ``previous``)."""
    return _encode({**(parse_marker(marker) or {}), "handing": previous or ""})


def hand_over(
    db_conn: Conn, owner: str, previous: str | None, *, marker: tuple[str, str] | None = None
) -> None:
    """Inside one database: give ``owner`` the public schema and ``previous``'s objects.

    ``marker`` (the database's name, its marker) is set in the same transaction:
    a copy marked :func:`handing` is complete exactly when its objects are the owner's.
    """
    role = sql.Identifier(owner)
    moving = previous if previous and previous != owner else None
    if moving and not role_exists(db_conn, moving):
        moving = None
    with db_conn.transaction():  # one commit
        if moving:
            act_as(db_conn, moving)  # first: the schema is previous's until it is handed over
        db_conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(role))
        if moving:
            db_conn.execute(
                sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(moving), role)
            )
        if marker is not None:
            set_marker(db_conn, *marker)


def set_template(conn: Conn, name: str, *, is_template: bool) -> None:
    flag = sql.SQL("true" if is_template else "false")
    conn.execute(
        sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), flag, sql.SQL("false" if is_template else "true")
        )
    )


def terminate(conn: Conn, *, database: str | None = None, role: str | None = None) -> int:
    """End the client sessions on ``database`` or of ``role``.

    Only client backends of roles the admin may signal: an autovacuum worker
    in the database (a superuser's process) would make the whole statement
    fail for an admin that is not superuser; it ends by itself when the
    database goes.
    """
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND pg_has_role(usesysid, 'MEMBER') AND (datname = %s OR usename = %s)",
        (database, role),
    ).fetchall()
    return len(rows)


def connections(conn: Conn, database: str) -> list[tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT usename, application_name FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    ).fetchall()
    return [(str(user), app or None) for user, app in rows]


def rename_database(conn: Conn, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def drop_database(conn: Conn, name: str, instance: str) -> None:
    check_owned(conn, name, instance)
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def now_stamp() -> int:
    return int(time.time())


READER_PREFIX = "berth_reader_"


@contextlib.contextmanager
def reader(conn: Conn, server: Server, database: str, owner: str) -> Iterator[Conn]:
    """A connection to ``database`` as a throw-away role with ``owner``'s rights, not admin's.

    For reading databases whose objects a berth's role or a migration made
    (templates, baselines, other berths): whatever runs while berth reads
    (a view's function, a trigger, a cast) runs as this role, which can do
    in that database what ``owner`` can and nothing else. It is dropped
    afterwards, with anything it was made to create.
    """
    name = READER_PREFIX + secrets.token_hex(4)
    password = secrets.token_urlsafe(24)
    with conn.transaction():  # marked (whose it is), so doctor can drop it if we die
        conn.execute(
            sql.SQL(
                "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                " NOBYPASSRLS INHERIT CONNECTION LIMIT 1 PASSWORD {}"
            ).format(sql.Identifier(name), sql.Literal(password))
        )
        mark_role(conn, name, "reader")
    try:
        act_as(conn, owner)
        version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
        grant = "GRANT {} TO {}" + (" WITH INHERIT TRUE, SET FALSE" if version >= 160000 else "")
        conn.execute(sql.SQL(grant).format(sql.Identifier(owner), sql.Identifier(name)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(name)
            )
        )
        with server.connect_as(name, password, database, search_path="pg_catalog,pg_temp") as db:
            yield db
    finally:
        terminate(conn, role=name)
        if database_exists(conn, database):
            # Also revokes its CONNECT; drops what it was made to create in there.
            with contextlib.suppress(psycopg.Error), server.connect(database) as db:
                db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        drop_role(conn, name)

"""Admin connections held between uses (the sidecar's): reused clean, never one to an app
database, and one that died or was left mid-transaction is not handed out again."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from berth.pg import held
from berth.pg.server import Server


@pytest.fixture
def holding() -> Iterator[None]:
    held.hold()
    try:
        yield
    finally:
        held.release()


def backend(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(str(row[0]))


@pytest.mark.usefixtures("holding")
def test_the_next_user_gets_the_same_session_with_nothing_left_of_the_last(
    server: Server,
) -> None:
    with server.connect() as conn:
        first = backend(conn)
        conn.execute("SET search_path = public")
        conn.execute("SELECT pg_advisory_lock(4242)")
        conn.execute("CREATE TEMPORARY TABLE scratch (x int)")
    with server.connect() as conn:
        assert backend(conn) == first
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog,pg_temp",)
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (first,)
        ).fetchone()
        assert locks == (0,)
        assert conn.execute("SELECT to_regclass('pg_temp.scratch')").fetchone() == (None,)
        # Used over and over: psycopg prepares nothing that DISCARD ALL would take away.
        for _ in range(8):
            conn.execute("SELECT %s::int", (1,))
    with server.connect() as conn:
        assert backend(conn) == first
        conn.execute("SELECT %s::int", (1,))


@pytest.mark.usefixtures("holding")
def test_a_session_left_in_a_transaction_or_an_error_is_closed_not_kept(
    server: Server,
) -> None:
    with server.connect() as conn:
        first = backend(conn)
        conn.autocommit = False
        conn.execute("SELECT 1")  # a transaction now open
    with server.connect() as conn:
        second = backend(conn)
        assert second != first
    with pytest.raises(RuntimeError), server.connect() as conn:
        raise RuntimeError("the block failed")
    assert conn.closed
    with server.connect() as conn:
        assert backend(conn) not in {first, second}


@pytest.mark.usefixtures("holding")
def test_a_held_session_the_server_ended_is_replaced(server: Server) -> None:
    with server.connect() as conn:
        first = backend(conn)
    with server.connect("template1") as other:  # not held: another database
        other.execute("SELECT pg_terminate_backend(%s)", (first,))
    with server.connect() as conn:
        assert backend(conn) != first
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.usefixtures("holding")
def test_an_app_databases_session_is_never_held(server: Server) -> None:
    name = f"held_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with server.connect(name) as db:
            db.execute("SELECT 1")
        assert db.closed
        with server.connect() as conn:  # nobody is left connected to it: it can be renamed
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(name + "_x")
                )
            )
            name += "_x"
    finally:
        with server.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def test_without_hold_every_connection_is_new_and_closed(server: Server) -> None:
    with server.connect() as conn:
        first = backend(conn)
    assert conn.closed
    with server.connect() as conn:
        assert backend(conn) != first


@pytest.mark.usefixtures("holding")
def test_sessions_unused_for_the_idle_time_are_closed(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.connect() as conn:
        first = backend(conn)
    assert held.close_idle() == 0  # used just now
    monkeypatch.setattr(held, "IDLE_SECONDS", 0.0)
    assert held.close_idle() == 1
    assert conn.closed
    with server.connect() as conn:
        assert backend(conn) != first

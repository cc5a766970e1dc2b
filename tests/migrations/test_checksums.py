"""berth's side table of first-seen checksums, for tools that keep none."""

from __future__ import annotations

import secrets
from typing import Any

from psycopg import sql

from berth.migrations import checksums, remember_checksums

GOOSE = """
CREATE TABLE goose_db_version (
    id serial NOT NULL,
    version_id bigint NOT NULL,
    is_applied boolean NOT NULL,
    tstamp timestamp NULL default now(),
    PRIMARY KEY(id)
);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);
"""


def _files(tree: Any) -> Any:
    tree.write("db/001_users.sql", "CREATE TABLE users (id int);\n")
    tree.write("db/002_items.sql", "CREATE TABLE items (id int);\n")
    return tree.files("db")


def test_remember_records_first_seen_checksums_in_berth_schema(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(GOOSE)
    remember_checksums("goose", database.conn, files)

    assert checksums.remembered(database.conn, "goose") == {
        f.version[-1]: f.checksum for f in files
    }
    rows = database.conn.execute(
        "SELECT schemaname FROM pg_tables WHERE tablename = %s", (checksums.TABLE,)
    ).fetchall()
    assert rows == [("berth",)]

    # Edited before berth ever read the status: still caught, because the
    # checksum was remembered when the migration was applied.
    tree.write("db/002_items.sql", "CREATE TABLE items (id bigint);\n")
    assert database.states("goose", tree.files("db")) == {"1": "applied", "2": "edited"}
    remember_checksums("goose", database.conn, tree.files("db"))
    assert database.states("goose", tree.files("db"))["2"] == "edited"


def test_tools_are_kept_apart(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(GOOSE)
    database.states("goose", files)
    assert checksums.remembered(database.conn, "dbmate") == {}


def test_a_role_that_cannot_write_still_gets_a_status(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(GOOSE)
    role = f"berth_ro_{secrets.token_hex(4)}"
    database.conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    try:
        database.conn.execute(
            sql.SQL("GRANT SELECT ON goose_db_version TO {}").format(sql.Identifier(role))
        )
        database.conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        assert database.states("goose", files) == {"1": "applied", "2": "applied"}
        database.conn.execute("RESET ROLE")
        assert checksums.remembered(database.conn, "goose") == {}
    finally:
        database.conn.execute("RESET ROLE")
        database.conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        database.conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_read_only_session_still_gets_a_status(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(GOOSE)
    database.conn.execute("SET default_transaction_read_only = on")
    assert database.states("goose", files) == {"1": "applied", "2": "applied"}

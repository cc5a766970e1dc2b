"""berth's built-in sql runner against a real database."""

from __future__ import annotations

from typing import Any

import pytest

from berth.errors import MigrationError
from berth.migrations import sql as runner


def _tables(conn: Any) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_applies_pending_files_in_order_and_records_them(database: Any, tree: Any) -> None:
    tree.write("db/002_items.sql", "CREATE TABLE items (id int REFERENCES users);\n")
    tree.write("db/001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n-- 100% sure\n")
    tree.write("db/010_both.sql", "INSERT INTO users VALUES (1); INSERT INTO items VALUES (1);")
    files = tree.files("db")

    applied = runner.apply(database.conn, files)

    assert [f.name for f in applied] == ["001_users.sql", "002_items.sql", "010_both.sql"]
    assert {"users", "items", runner.TABLE} <= _tables(database.conn)
    rows = runner.applied_rows(database.conn)
    assert {v: (n, c) for v, (n, c, _) in rows.items()} == {
        f.version: (f.name, f.checksum) for f in files
    }
    assert database.conn.execute("SELECT count(*) FROM items").fetchone() == (1,)


def test_second_run_applies_only_new_files_and_never_reruns_edited(
    database: Any, tree: Any
) -> None:
    tree.write("db/001_users.sql", "CREATE TABLE users (id int);\n")
    runner.apply(database.conn, tree.files("db"))
    tree.write("db/001_users.sql", "CREATE TABLE users (id int, name text);\n")
    tree.write("db/002_more.sql", "ALTER TABLE users ADD COLUMN email text;\n")

    applied = runner.apply(database.conn, tree.files("db"))

    assert [f.name for f in applied] == ["002_more.sql"]
    assert runner.apply(database.conn, tree.files("db")) == []


def test_failing_file_names_file_and_line_and_rolls_back(database: Any, tree: Any) -> None:
    tree.write("db/001_ok.sql", "CREATE TABLE ok (id int);\n")
    tree.write("db/002_bad.sql", "CREATE TABLE half (id int);\n\nSELECT * FROM nowhere;\n")
    tree.write("db/003_after.sql", "CREATE TABLE after (id int);\n")

    with pytest.raises(MigrationError) as info:
        runner.apply(database.conn, tree.files("db"))

    err = info.value
    assert "db/002_bad.sql (line 3)" in err.message
    assert 'relation "nowhere" does not exist' in err.message
    assert "\n" not in err.message
    assert err.hint and "002_bad.sql" in err.hint
    tables = _tables(database.conn)
    assert "ok" in tables
    assert "half" not in tables
    assert "after" not in tables
    assert set(runner.applied_rows(database.conn)) == {"001"}


def test_a_file_with_its_own_commit_is_refused_before_it_runs(database: Any, tree: Any) -> None:
    tree.write("db/001_tx.sql", "BEGIN;\nCREATE TABLE xx (id int);\nCOMMIT;\nSELECT * FROM nope;\n")
    with pytest.raises(MigrationError) as info:
        runner.apply(database.conn, tree.files("db"))
    assert "db/001_tx.sql:1 has its own BEGIN" in info.value.message
    assert "xx" not in _tables(database.conn)  # nothing committed behind berth's back


def test_function_bodies_and_strings_are_not_transaction_control(database: Any, tree: Any) -> None:
    body = (
        "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n"
        "CREATE TABLE notes (v text);\nINSERT INTO notes VALUES ('COMMIT;');\n-- END;\n"
        "DO $do$ BEGIN PERFORM f(); END $do$;\n"
    )
    tree.write("db/001_fn.sql", body)
    assert [f.name for f in runner.apply(database.conn, tree.files("db"))] == ["001_fn.sql"]
    assert database.conn.execute("SELECT f()").fetchone() == (1,)


def test_duplicate_versions_are_refused_before_anything_runs(database: Any, tree: Any) -> None:
    tree.write("db/001_a.sql", "CREATE TABLE a (id int);\n")
    tree.write("db/001_b.sql", "CREATE TABLE b (id int);\n")

    with pytest.raises(MigrationError, match="share version 001"):
        runner.apply(database.conn, tree.files("db"))

    assert _tables(database.conn) == set()


def test_empty_file_is_recorded(database: Any, tree: Any) -> None:
    tree.write("db/001_empty.sql", "\n")
    assert [f.name for f in runner.apply(database.conn, tree.files("db"))] == ["001_empty.sql"]
    assert set(runner.applied_rows(database.conn)) == {"001"}


def test_status_applied_pending_edited_missing(database: Any, tree: Any) -> None:
    tree.write("db/001_users.sql", "CREATE TABLE users (id int);\n")
    tree.write("db/002_items.sql", "CREATE TABLE items (id int);\n")
    assert database.report("sql", tree.files("db")).state == "pending"
    runner.apply(database.conn, tree.files("db"))
    assert database.report("sql", tree.files("db")).state == "ok"

    tree.write("db/001_users.sql", "CREATE TABLE users (id bigint);\n")
    tree.write("db/003_orders.sql", "CREATE TABLE orders (id int);\n")
    (tree.root / "db/002_items.sql").unlink()
    report = database.report("sql", tree.files("db"))
    assert [(i.version, i.name, i.state) for i in report.items] == [
        ("001", "001_users.sql", "edited"),
        ("003", "003_orders.sql", "pending"),
        ("002", "002_items.sql", "missing"),
    ]
    assert all(i.applied_at is not None for i in report.items if i.state != "pending")
    # The table has checksums of its own: nothing goes to berth's side table.
    assert database.conn.execute("SELECT to_regnamespace('berth')").fetchone() == (None,)


def test_dbmate_and_goose_files_run_only_their_up_section(database: Any, tree: Any) -> None:
    database.conn.execute("CREATE SCHEMA precious")
    tree.write(
        "db/001_dbmate.sql",
        "-- migrate:up\nCREATE TABLE from_dbmate (id int);\n\n"
        "-- migrate:down\nDROP SCHEMA precious CASCADE;\n",
    )
    tree.write(
        "db/002_goose.sql",
        "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE from_goose (id int);\n"
        "-- +goose StatementEnd\n\n-- +goose Down\nDROP SCHEMA precious CASCADE;\n",
    )
    tree.write("db/003_bad.sql", "-- migrate:up\n\nSELECT * FROM nowhere;\n-- migrate:down\n")

    with pytest.raises(MigrationError, match=r"db/003_bad.sql \(line 3\)"):
        runner.apply(database.conn, tree.files("db"))

    assert {"from_dbmate", "from_goose"} <= _tables(database.conn)
    row = database.conn.execute("SELECT to_regnamespace('precious')").fetchone()
    assert row is not None and row[0] is not None  # no down section ran


@pytest.mark.parametrize(
    "text",
    [
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (id);\n",
        "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (id);\n",
    ],
)
def test_a_file_that_needs_no_transaction_names_the_tool_to_set(
    database: Any, tree: Any, text: str
) -> None:
    tree.write("db/001_index.sql", text)
    with pytest.raises(MigrationError, match="outside a transaction") as info:
        runner.apply(database.conn, tree.files("db"))
    assert "tool" in (info.value.hint or "")


def test_a_missing_extension_is_named_with_how_to_get_it(database: Any, tree: Any) -> None:
    tree.write("db/001_ext.sql", 'CREATE EXTENSION "no_such_extension_here";\n')
    with pytest.raises(MigrationError, match='"no_such_extension_here" is not available') as info:
        runner.apply(database.conn, tree.files("db"))
    assert "BERTH_PG_BIN" in (info.value.hint or "")
    assert "'no_such_extension_here'" in (info.value.hint or "")

"""golang-migrate status from its single-row ``schema_migrations``."""

from __future__ import annotations

from typing import Any

from berth.migrations.files import MigrationFile

# golang-migrate's Postgres driver, verbatim; SetVersion empties the table and
# inserts one row (none after migrating all the way down).
CREATE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint not null primary key, dirty boolean not null)"
)


def _set_version(database: Any, version: int, dirty: bool = False) -> None:
    database.conn.execute("TRUNCATE schema_migrations")
    database.conn.execute(
        "INSERT INTO schema_migrations (version, dirty) VALUES (%s, %s)", (version, dirty)
    )


def _files(tree: Any) -> list[MigrationFile]:
    for version, name in [(1, "users"), (2, "items"), (10, "orders")]:
        tree.write(f"db/{version:06d}_{name}.up.sql", f"CREATE TABLE {name} (id int);\n")
        tree.write(f"db/{version:06d}_{name}.down.sql", f"DROP TABLE {name};\n")
    return tree.files("db")


def test_down_files_are_not_migrations_and_no_table_is_pending(database: Any, tree: Any) -> None:
    report = database.report("golang-migrate", _files(tree))
    assert [(i.name, i.state) for i in report.items] == [
        ("000001_users.up.sql", "pending"),
        ("000002_items.up.sql", "pending"),
        ("000010_orders.up.sql", "pending"),
    ]


def test_files_at_or_below_the_version_are_applied(database: Any, tree: Any) -> None:
    database.run(CREATE)
    _set_version(database, 2)
    assert database.states("golang-migrate", _files(tree)) == {
        "1": "applied",
        "2": "applied",
        "10": "pending",
    }
    tree.write("db/000002_items.up.sql", "CREATE TABLE items (id bigint);\n")
    assert database.states("golang-migrate", tree.files("db"))["2"] == "edited"


def test_empty_table_after_full_rollback(database: Any, tree: Any) -> None:
    database.run(CREATE)
    assert set(database.states("golang-migrate", _files(tree)).values()) == {"pending"}


def test_version_beyond_the_branch_is_missing(database: Any, tree: Any) -> None:
    database.run(CREATE)
    _set_version(database, 20)
    report = database.report("golang-migrate", _files(tree))
    assert {i.version: i.state for i in report.items} == {
        "1": "applied",
        "2": "applied",
        "10": "applied",
        "20": "missing",
    }
    assert report.state == "ahead"


def test_dirty_version_is_reported(database: Any, tree: Any) -> None:
    database.run(CREATE)
    _set_version(database, 10, dirty=True)
    report = database.report("golang-migrate", _files(tree))
    assert {i.version: i.state for i in report.items} == {
        "1": "applied",
        "2": "applied",
        "10": "pending",
    }
    assert report.state == "unknown"
    assert "dirty at version 10" in report.problems[0]
    assert report.to_json()["problems"] == list(report.problems)

"""dbmate status from ``schema_migrations(version varchar primary key)``."""

from __future__ import annotations

from typing import Any

from berth.migrations.files import MigrationFile

# dbmate's Postgres driver, verbatim (it qualifies the table with the current schema).
CREATE = 'create table if not exists "public".schema_migrations (version varchar(255) primary key)'


def _files(tree: Any) -> list[MigrationFile]:
    for version, name in [("20240101000000", "users"), ("20240102000000", "items")]:
        tree.write(
            f"db/migrations/{version}_{name}.sql",
            f"-- migrate:up\nCREATE TABLE {name} (id int);\n\n"
            f"-- migrate:down\nDROP TABLE {name};\n",
        )
    return tree.files("db/migrations")


def _insert(database: Any, *versions: str) -> None:
    for version in versions:
        database.conn.execute(
            'insert into "public".schema_migrations (version) values (%s)', (version,)
        )


def test_statuses(database: Any, tree: Any) -> None:
    files = _files(tree)
    assert set(database.states("dbmate", files).values()) == {"pending"}

    database.run(CREATE)
    _insert(database, "20240101000000", "20240301000000")
    report = database.report("dbmate", files)
    assert [(i.version, i.state, i.relpath) for i in report.items] == [
        ("20240101000000", "applied", "db/migrations/20240101000000_users.sql"),
        ("20240102000000", "pending", "db/migrations/20240102000000_items.sql"),
        ("20240301000000", "missing", None),
    ]

    tree.write("db/migrations/20240101000000_users.sql", "-- migrate:up\nSELECT 1;\n")
    assert database.states("dbmate", tree.files("db/migrations"))["20240101000000"] == "edited"


def test_versions_are_kept_as_written(database: Any, tree: Any) -> None:
    tree.write("db/migrations/001_first.sql", "-- migrate:up\n")
    database.run(CREATE)
    _insert(database, "001")
    assert database.states("dbmate", tree.files("db/migrations")) == {"001": "applied"}

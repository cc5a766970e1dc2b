"""Flyway status from ``flyway_schema_history``, with Flyway's own checksums."""

from __future__ import annotations

import zlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from berth.migrations import flyway

# Flyway's createMetaDataTable.sql for PostgreSQL, with its schema marker row.
CREATE = """
CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history"
    ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
"""


class History:
    """Writes rows the way Flyway does: one per run, installed_rank counting up."""

    def __init__(self, database: Any) -> None:
        self.conn = database.conn
        self.rank = 0

    def row(
        self,
        version: str | None,
        description: str,
        script: str,
        checksum: int | None,
        *,
        kind: str = "SQL",
        success: bool = True,
    ) -> None:
        self.rank += 1
        self.conn.execute(
            'INSERT INTO "public"."flyway_schema_history" ("installed_rank", "version",'
            ' "description", "type", "script", "checksum", "installed_by", "execution_time",'
            ' "success") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)',
            (self.rank, version, description, kind, script, checksum, "app", 12, success),
        )

    def applied(self, tree: Any, relpath: str, version: str | None, description: str) -> None:
        name = relpath.rsplit("/", 1)[-1]
        self.row(version, description, name, flyway.checksum((tree.root / relpath).read_bytes()))


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def test_checksum_is_flyways_crc_over_lines() -> None:
    assert flyway.checksum(b"") == 0
    assert flyway.checksum(b"SELECT 1;\n") == _signed(zlib.crc32(b"SELECT 1;"))
    expected = _signed(zlib.crc32(b"CREATE TABLE t (id int);INSERT INTO t VALUES (1);"))
    assert flyway.checksum(b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n") == expected
    # Blank lines add nothing; a BOM on the first line is dropped; values can be negative.
    assert flyway.checksum(b"\xef\xbb\xbfa\n\n\nb") == _signed(zlib.crc32(b"ab"))
    assert any(flyway.checksum(bytes([c]) * 3) < 0 for c in range(97, 123))


@given(
    st.lists(
        st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")),
        max_size=8,
    )
)
def test_checksum_ignores_line_endings(lines: list[str]) -> None:
    unix = "\n".join(lines).encode()
    windows = "\r\n".join(lines).encode()
    old_mac = "\r".join(lines).encode()
    assert flyway.checksum(unix) == flyway.checksum(windows) == flyway.checksum(old_mac)
    assert flyway.checksum(unix) == flyway.checksum(unix + b"\n")


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4))
def test_version_key_ignores_separators_and_trailing_zeros(parts: list[int]) -> None:
    dotted = ".".join(map(str, parts))
    assert flyway.version_key(dotted) == flyway.version_key("_".join(map(str, parts)))
    assert flyway.version_key(dotted) == flyway.version_key(dotted + ".0")


@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=3), min_size=1, max_size=10))
def test_order_is_numeric_by_part(versions: list[list[int]]) -> None:
    keys = [flyway.version_key(".".join(map(str, v))) for v in versions]
    ordered = sorted(keys, key=flyway.order)
    as_tuples = [tuple(int(p) for p in k.split(".")) for k in ordered]
    assert as_tuples == sorted(as_tuples)


def _files(tree: Any) -> None:
    tree.write("sql/V1__Create_users.sql", "CREATE TABLE users (id int);\n")
    tree.write("sql/V1_1__Add_email.sql", "ALTER TABLE users ADD email text;\r\n")
    tree.write("sql/V2__Create_items.sql", "CREATE TABLE items (id int);\n")
    tree.write("sql/V10__Create_orders.sql", "CREATE TABLE orders (id int);\n")
    tree.write("sql/R__Views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n")
    tree.write("sql/U2__Create_items.sql", "DROP TABLE items;\n")


def test_no_history_means_pending_in_flyway_order(database: Any, tree: Any) -> None:
    _files(tree)
    report = database.report("flyway", tree.files("sql"))
    assert [(i.version, i.state) for i in report.items] == [
        ("1", "pending"),
        ("1.1", "pending"),
        ("2", "pending"),
        ("10", "pending"),
        ("R:Views", "pending"),
    ]


def test_applied_pending_edited_missing(database: Any, tree: Any) -> None:
    _files(tree)
    database.run(CREATE)
    history = History(database)
    history.row(None, "<< Flyway Schema Creation >>", '"public"', None, kind="SCHEMA")
    history.applied(tree, "sql/V1__Create_users.sql", "1", "Create users")
    history.applied(tree, "sql/V1_1__Add_email.sql", "1.1", "Add email")
    history.applied(tree, "sql/V2__Create_items.sql", "2", "Create items")
    history.applied(tree, "sql/R__Views.sql", None, "Views")
    history.row("11", "Create carts", "V11__Create_carts.sql", 12345)

    report = database.report("flyway", tree.files("sql"))
    assert {i.version: i.state for i in report.items} == {
        "1": "applied",
        "1.1": "applied",
        "2": "applied",
        "10": "pending",
        "R:Views": "applied",
        "11": "missing",
    }
    assert report.items[-1].name == "V11__Create_carts.sql"
    assert report.items[0].applied_at is not None

    # Line endings do not change Flyway's checksum; content does.
    tree.write("sql/V1__Create_users.sql", "CREATE TABLE users (id int);\r\n")
    tree.write("sql/V2__Create_items.sql", "CREATE TABLE items (id bigint);\n")
    tree.write("sql/R__Views.sql", "CREATE OR REPLACE VIEW v AS SELECT 2;\n")
    states = database.states("flyway", tree.files("sql"))
    assert states["1"] == "applied"
    assert states["2"] == "edited"
    assert states["R:Views"] == "pending"  # Flyway re-runs a changed repeatable migration

    # Nothing goes to berth's side table: Flyway keeps its own checksums.
    assert database.conn.execute(
        "SELECT to_regclass('berth.berth_migration_checksums')"
    ).fetchone() == (None,)


def test_baseline_undo_and_failure(database: Any, tree: Any) -> None:
    _files(tree)
    database.run(CREATE)
    history = History(database)
    history.row("1.1", "<< Flyway Baseline >>", "<< Flyway Baseline >>", None, kind="BASELINE")
    history.applied(tree, "sql/V2__Create_items.sql", "2", "Create items")
    history.row("2", "Create items", "U2__Create_items.sql", None, kind="UNDO_SQL")
    assert database.states("flyway", tree.files("sql")) == {
        "1": "applied",
        "1.1": "applied",
        "2": "pending",
        "10": "pending",
        "R:Views": "pending",
    }

    history.row("10", "Create orders", "V10__Create_orders.sql", 1, success=False)
    report = database.report("flyway", tree.files("sql"))
    assert report.state == "unknown"
    assert "V10__Create_orders.sql" in report.problems[0]

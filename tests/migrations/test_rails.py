"""Rails status from Active Record's ``schema_migrations`` (and ``ar_internal_metadata``)."""

from __future__ import annotations

from typing import Any

# Active Record's tables on PostgreSQL, as `bin/rails db:migrate` creates them.
CREATE = """
CREATE TABLE "schema_migrations" ("version" character varying NOT NULL PRIMARY KEY);
CREATE TABLE "ar_internal_metadata" (
    "key" character varying NOT NULL PRIMARY KEY,
    "value" character varying,
    "created_at" timestamp(6) NOT NULL,
    "updated_at" timestamp(6) NOT NULL
);
INSERT INTO "ar_internal_metadata" ("key", "value", "created_at", "updated_at")
    VALUES ('environment', 'development', now(), now());
"""


def test_statuses(database: Any, tree: Any) -> None:
    tree.write("db/migrate/20240101000000_create_users.rb", "class CreateUsers; end\n")
    tree.write("db/migrate/20240102000000_create_items.rb", "class CreateItems; end\n")
    tree.write("db/migrate/20240103000000_add_email.rb", "class AddEmail; end\n")
    tree.write("db/migrate/README.md", "notes\n")
    files = tree.files("db/migrate")
    assert len(database.report("rails", files).items) == 3
    assert database.report("rails", files).state == "pending"

    database.run(CREATE)
    database.run(
        "INSERT INTO schema_migrations (version) VALUES "
        "('20240101000000'), ('20240102000000'), ('20231231000000')"
    )
    report = database.report("rails", files)
    assert [(i.version, i.state) for i in report.items] == [
        ("20240101000000", "applied"),
        ("20240102000000", "applied"),
        ("20240103000000", "pending"),
        ("20231231000000", "missing"),
    ]
    assert (report.applied, report.pending, report.edited, report.missing) == (2, 1, 0, 1)

    tree.write("db/migrate/20240102000000_create_items.rb", "class CreateItems2; end\n")
    assert database.states("rails", tree.files("db/migrate"))["20240102000000"] == "edited"


def test_short_versions_are_stored_as_integers(database: Any, tree: Any) -> None:
    tree.write("db/migrate/001_create_users.rb", "class CreateUsers; end\n")
    tree.write("db/migrate/002_create_items.rb", "class CreateItems; end\n")
    database.run(CREATE)
    database.run("INSERT INTO schema_migrations (version) VALUES ('1')")
    assert database.states("rails", tree.files("db/migrate")) == {"1": "applied", "2": "pending"}

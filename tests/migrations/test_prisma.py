"""Prisma Migrate status from ``_prisma_migrations`` (Prisma's own checksums)."""

from __future__ import annotations

import hashlib
from typing import Any

from berth.migrations.files import MigrationFile

# Prisma's migrations table on PostgreSQL, as prisma migrate creates it.
CREATE = """
CREATE TABLE "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)"""
USERS = 'CREATE TABLE "User" ("id" SERIAL NOT NULL, CONSTRAINT "User_pkey" PRIMARY KEY ("id"));\n'
POSTS = 'CREATE TABLE "Post" ("id" SERIAL NOT NULL);\n'


def _files(tree: Any) -> list[MigrationFile]:
    tree.write("prisma/migrations/20240101000000_init/migration.sql", USERS)
    tree.write("prisma/migrations/20240102000000_posts/migration.sql", POSTS)
    tree.write("prisma/migrations/migration_lock.toml", 'provider = "postgresql"\n')
    tree.write("prisma/schema.prisma", "// the schema\n")
    return tree.files("prisma/migrations")


def _applied(database: Any, name: str, body: str, *, finished: bool = True) -> None:
    checksum = hashlib.sha256(body.encode()).hexdigest()
    database.conn.execute(
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name)'
        " VALUES (gen_random_uuid(), %s, CASE WHEN %s THEN now() END, %s)",
        (checksum, finished, name),
    )


def test_each_migration_directory_is_one_migration(database: Any, tree: Any) -> None:
    files = _files(tree)
    assert [(f.version, f.name) for f in files] == [
        ("20240101000000_init", "20240101000000_init/migration.sql"),
        ("20240102000000_posts", "20240102000000_posts/migration.sql"),
    ]
    assert set(database.states("prisma", files).values()) == {"pending"}


def test_applied_edited_pending_and_missing(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(CREATE)
    _applied(database, "20240101000000_init", "-- the file as it was applied\n")
    _applied(database, "20231201000000_gone", "-- not on this branch\n")
    report = database.report("prisma", files)
    assert {i.version: i.state for i in report.items} == {
        "20231201000000_gone": "missing",
        "20240101000000_init": "edited",
        "20240102000000_posts": "pending",
    }


def test_a_migration_that_failed_halfway_is_a_problem_not_applied(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(CREATE)
    _applied(database, "20240101000000_init", USERS)
    _applied(database, "20240102000000_posts", POSTS, finished=False)
    report = database.report("prisma", files)
    assert {i.version: i.state for i in report.items} == {
        "20240101000000_init": "applied",
        "20240102000000_posts": "pending",
    }
    assert any("failed halfway" in p for p in report.problems)

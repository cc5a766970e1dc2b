"""Drizzle Kit status from ``drizzle.__drizzle_migrations`` and the migrations' journal."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from berth.migrations.files import MigrationFile

# The table drizzle-orm's migrator makes (its own words, on PostgreSQL).
CREATE = """
CREATE SCHEMA IF NOT EXISTS "drizzle";
CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (
    id SERIAL PRIMARY KEY,
    hash text NOT NULL,
    created_at bigint
)"""
USERS = 'CREATE TABLE "users" ("id" serial PRIMARY KEY NOT NULL);\n'
POSTS = 'CREATE TABLE "posts" ("id" serial PRIMARY KEY NOT NULL);\n'
WHEN = {"0000_init": 1704067200000, "0001_posts": 1704153600000}


def _files(tree: Any) -> list[MigrationFile]:
    tree.write("drizzle/0000_init.sql", USERS)
    tree.write("drizzle/0001_posts.sql", POSTS)
    journal = {
        "version": "7",
        "dialect": "postgresql",
        "entries": [
            {"idx": i, "version": "7", "when": when, "tag": tag, "breakpoints": True}
            for i, (tag, when) in enumerate(WHEN.items())
        ],
    }
    tree.write("drizzle/meta/_journal.json", json.dumps(journal))
    tree.write("drizzle/meta/0000_snapshot.json", "{}")
    return tree.files("drizzle")


def _applied(database: Any, body: str, when: int) -> None:
    digest = hashlib.sha256(body.encode()).hexdigest()
    database.conn.execute(
        'INSERT INTO "drizzle"."__drizzle_migrations" (hash, created_at) VALUES (%s, %s)',
        (digest, when),
    )


def test_statuses_follow_the_journal_and_the_newest_applied(database: Any, tree: Any) -> None:
    files = _files(tree)
    assert set(database.states("drizzle", files).values()) == {"pending"}
    database.run(CREATE)
    _applied(database, USERS, WHEN["0000_init"])
    assert database.states("drizzle", files) == {
        str(WHEN["0000_init"]): "applied",
        str(WHEN["0001_posts"]): "pending",
    }


def test_an_edited_file_and_one_missing_on_this_branch(database: Any, tree: Any) -> None:
    files = _files(tree)
    database.run(CREATE)
    _applied(database, "-- as it was applied\n", WHEN["0000_init"])
    _applied(database, POSTS, WHEN["0001_posts"])
    _applied(database, "-- another branch's\n", 1704240000000)
    assert database.states("drizzle", files) == {
        str(WHEN["0000_init"]): "edited",
        str(WHEN["0001_posts"]): "applied",
        "1704240000000": "missing",
    }

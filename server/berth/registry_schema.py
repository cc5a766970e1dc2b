"""The registry's schema, versioned by ``PRAGMA user_version``.

``MIGRATIONS[n - 1]`` takes a registry from version ``n - 1`` to ``n``. Opening
one applies what it lacks, all in one write transaction; a registry of a newer
berth is refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from berth.errors import ConfigError

# Version 1: the schema as berth created it before the registry had a version
# (such registries have user_version 0 and these tables: IF NOT EXISTS makes
# applying it to them stamp them, and create only a table they lack).
_V1 = (
    """
CREATE TABLE IF NOT EXISTS berths (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    server      TEXT NOT NULL,
    worktree    TEXT NOT NULL,
    git_dir     TEXT NOT NULL,
    branch      TEXT,
    database    TEXT NOT NULL,
    role        TEXT NOT NULL,
    password    TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    state       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    trashed_at  REAL,
    trash_name  TEXT,
    template    TEXT,
    baseline    TEXT,
    redis_index INTEGER,
    is_main     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (server, database),
    UNIQUE (server, role),
    UNIQUE (project, slot)
)""",
    """
CREATE TABLE IF NOT EXISTS ports (
    port     INTEGER PRIMARY KEY,
    berth_id TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    name     TEXT NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS trash (
    name       TEXT PRIMARY KEY,
    berth_id   TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    original   TEXT NOT NULL,
    trashed_at REAL NOT NULL,
    reason     TEXT NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS redis (
    berth_id TEXT PRIMARY KEY REFERENCES berths(id) ON DELETE CASCADE,
    server   TEXT NOT NULL,  -- host:port of the Redis server
    url      TEXT NOT NULL,  -- the configured [redis] url (the main checkout's)
    mode     TEXT NOT NULL,  -- index | prefix | main
    idx      INTEGER,        -- the berth's logical database in index mode
    prefix   TEXT,           -- the berth's key prefix in prefix mode
    UNIQUE (server, idx)
)""",
    """
CREATE TABLE IF NOT EXISTS processes (
    pid        INTEGER NOT NULL,
    berth_id   TEXT NOT NULL REFERENCES berths(id) ON DELETE CASCADE,
    command    TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat  REAL NOT NULL,
    PRIMARY KEY (pid, berth_id)
)""",
    "PRAGMA user_version = 1",
)

# The statements of each version, in order: append a new version, never edit one;
# each ends by stamping its own number (PRAGMA user_version = N).
# Each is run with ``execute`` (``executescript`` would commit the transaction),
# with foreign keys on: a migration that rebuilds a table must mind ON DELETE CASCADE.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
VERSION = len(MIGRATIONS)


def version(db: sqlite3.Connection) -> int:
    """The schema version of the registry ``db`` is open on (``PRAGMA user_version``)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    db: sqlite3.Connection,
    path: Path,
    transaction: Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]],
) -> None:
    """Bring the schema to ``VERSION``: the missing migrations in one transaction."""
    if _check_version(db, path) == VERSION:
        return  # the usual case: no write, no lock
    with transaction() as tx:
        current = _check_version(tx, path)  # again: another process may have migrated it
        for statements in MIGRATIONS[current:]:
            for statement in statements:
                tx.execute(statement)


def _check_version(db: sqlite3.Connection, path: Path) -> int:
    current = version(db)
    if current > VERSION:
        raise ConfigError(
            f"the registry {path} has schema version {current}: a newer berth"
            f" wrote it, and this one knows versions up to {VERSION}",
            hint="upgrade berth, or set BERTH_HOME to another directory for this one",
        )
    return current

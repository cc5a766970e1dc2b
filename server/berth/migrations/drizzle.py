"""Drizzle Kit: ``drizzle.__drizzle_migrations(id, hash, created_at)``.

Migrations are ``<out>/NNNN_<tag>.sql`` listed in ``<out>/meta/_journal.json``
(``{"entries": [{"tag", "when"}]}``). Drizzle's migrator applies every entry
whose ``when`` is later than the newest ``created_at`` in its table, and
records the sha256 of the file with ``created_at = when``: an entry is applied
when its ``when`` is at most that newest one, and its recorded hash tells
whether the file was edited since.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, by_number

SCHEMA, TABLE = "drizzle", "__drizzle_migrations"


def journal(files: list[MigrationFile]) -> dict[str, int]:
    """``{tag: when}`` from the journal beside the files (none: an empty map)."""
    tags: dict[str, int] = {}
    for folder in {f.path.parent for f in files}:
        path = Path(folder) / "meta" / "_journal.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for entry in data.get("entries", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("when"), int):
                tags[str(entry.get("tag"))] = entry["when"]
    return tags


def entries(files: list[MigrationFile]) -> list[Entry]:
    whens = journal(files)
    found = [Entry(str(whens[f.path.stem]), f, f.checksum) for f in files if f.path.stem in whens]
    return sorted(found, key=lambda e: int(e.key))


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    listed = entries(files)
    applied: dict[str, datetime | None] = {}
    recorded: dict[str, str] = {}
    name = sql.Identifier(SCHEMA, TABLE)
    if _exists(conn, name):
        found = conn.execute(sql.SQL("SELECT hash, created_at FROM {}").format(name)).fetchall()
        newest = max((int(created) for _, created in found if created is not None), default=None)
        hashes = {str(int(created)): str(digest) for digest, created in found if created}
        for entry in listed:
            if newest is not None and int(entry.key) <= newest:
                applied[entry.key] = datetime.fromtimestamp(int(entry.key) / 1000, UTC)
                if entry.key in hashes:
                    recorded[entry.key] = hashes[entry.key]
        for key in hashes.keys() - {e.key for e in listed}:
            applied[key] = None  # applied here, no file on this branch: missing
    return Observation(listed, applied, recorded=recorded, order=by_number)


def _exists(conn: Conn, name: sql.Composable) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (name.as_string(conn),)).fetchone()
    return row is not None and row[0] is not None

"""golang-migrate: ``schema_migrations(version bigint, dirty bool)``, a single row.

The row is the current version: every ``.up.`` file at or below it is
applied. ``dirty`` means the migration at that version failed halfway and
golang-migrate refuses to go on until someone runs ``migrate force``.
"""

from __future__ import annotations

import re
from datetime import datetime

from berth.migrations.files import MigrationFile
from berth.migrations.status import (
    Conn,
    Entry,
    Observation,
    by_number,
    numbered,
    rows,
    table_exists,
)

TABLE = "schema_migrations"
_NAME = re.compile(r"^(\d+)_.*\.up\.[^.]+$")


def entries(files: list[MigrationFile]) -> list[Entry]:
    return numbered(files, _NAME)


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    on_disk = entries(files)
    seen = Observation(on_disk, {}, order=by_number)
    if not table_exists(conn, TABLE):
        return seen
    found = rows(conn, TABLE, ["version", "dirty"])
    if not found:
        return seen  # golang-migrate empties the table when everything is rolled back
    current, dirty = int(found[0][0]), bool(found[0][1])
    applied: dict[str, datetime | None] = {
        e.key: None
        for e in on_disk
        if int(e.key) < current or (int(e.key) == current and not dirty)
    }
    if not dirty and str(current) not in applied:
        applied[str(current)] = None  # the database is at a version this branch does not have
    seen.applied = applied
    if dirty:
        seen.problems.append(
            f"golang-migrate left the database dirty at version {current}: that migration "
            f"failed halfway; fix it, then run `migrate force {current}` or berth reset"
        )
    return seen

"""Prisma Migrate: ``_prisma_migrations``, one row per run, with Prisma's own checksums.

Each migration is a directory ``prisma/migrations/<timestamp>_<name>/`` with
its SQL in ``migration.sql``; the directory name is the migration's name.
Prisma records the sha256 of that file, so berth needs no side table. A row
without ``finished_at`` is a migration that failed halfway (Prisma refuses to
go on until it is resolved); one with ``rolled_back_at`` does not count.
"""

from __future__ import annotations

from datetime import datetime

from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, rows, table_exists

TABLE = "_prisma_migrations"
_COLUMNS = ["migration_name", "checksum", "finished_at", "rolled_back_at"]


def entries(files: list[MigrationFile]) -> list[Entry]:
    found = [Entry(f.version, f, f.checksum) for f in files if f.name.endswith("/migration.sql")]
    return sorted(found, key=lambda e: e.key)  # Prisma applies them by directory name


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    applied: dict[str, datetime | None] = {}
    recorded: dict[str, str] = {}
    problems: list[str] = []
    if table_exists(conn, TABLE):
        for name, checksum, finished, rolled_back in rows(conn, TABLE, _COLUMNS, "started_at"):
            if rolled_back is not None:
                continue
            if finished is None:
                problems.append(
                    f"{name} failed halfway: resolve it (prisma migrate resolve) or berth reset"
                )
                continue
            applied[str(name)] = finished
            recorded[str(name)] = str(checksum)
    return Observation(entries(files), applied, recorded=recorded, problems=problems)

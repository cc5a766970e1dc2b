"""dbmate: ``schema_migrations(version varchar primary key)``, one row per applied file.

The version is the file name's leading digits exactly as written
(``20240101120000_add_users.sql`` is ``20240101120000``).
"""

from __future__ import annotations

import re
from datetime import datetime

from berth.migrations.files import MigrationFile
from berth.migrations.status import Conn, Entry, Observation, by_number, rows, table_exists

TABLE = "schema_migrations"
_NAME = re.compile(r"^(\d+)_.*\.sql$")


def entries(files: list[MigrationFile]) -> list[Entry]:
    found = [Entry(match.group(1), f, f.checksum) for f in files if (match := _NAME.match(f.name))]
    return sorted(found, key=lambda e: e.key)  # dbmate sorts versions as strings


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    applied: dict[str, datetime | None] = {}
    if table_exists(conn, TABLE):
        applied = {str(version): None for (version,) in rows(conn, TABLE, ["version"])}
    return Observation(entries(files), applied, order=by_number)

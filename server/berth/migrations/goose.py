"""goose: ``goose_db_version``, one row per up (and, in old goose, per down) run.

goose writes ``(id serial, version_id bigint, is_applied bool, tstamp timestamp)``
with a ``version_id = 0`` row at creation. A down run deletes the version's
rows (old goose inserted ``is_applied = false`` instead), so the latest row
per version decides.
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

TABLE = "goose_db_version"
_NAME = re.compile(r"^(\d+)_.+\.(sql|go)$")


def entries(files: list[MigrationFile]) -> list[Entry]:
    """goose's versions are the leading number as an integer: ``00002_x.sql`` is 2."""
    return numbered(files, _NAME)


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    latest: dict[int, tuple[bool, datetime | None]] = {}
    if table_exists(conn, TABLE):
        for version, is_applied, tstamp in rows(
            conn, TABLE, ["version_id", "is_applied", "tstamp"], order="id"
        ):
            latest[int(version)] = (bool(is_applied), tstamp)
    applied = {str(v): at for v, (ok, at) in latest.items() if ok and v != 0}
    return Observation(entries(files), applied, order=by_number)

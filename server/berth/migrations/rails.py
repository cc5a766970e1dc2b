"""Rails (Active Record): ``schema_migrations(version varchar primary key)``.

Active Record stores ``version.to_i.to_s``, so ``001_create_users.rb`` is
recorded as ``1``. Its other table, ``ar_internal_metadata``, names the
environment and says nothing about migrations, so berth does not read it.
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
# Active Record's own pattern: version, snake_case name, optional scope.
_NAME = re.compile(r"^([0-9]+)_([_a-z0-9]*)\.?([_a-z0-9]*)?\.rb$")


def entries(files: list[MigrationFile]) -> list[Entry]:
    return numbered(files, _NAME)


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    applied: dict[str, datetime | None] = {}
    if table_exists(conn, TABLE):
        applied = {str(version): None for (version,) in rows(conn, TABLE, ["version"])}
    return Observation(entries(files), applied, order=by_number)

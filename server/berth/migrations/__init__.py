"""Migration status of a database against the files on disk, for every supported tool.

Each tool has its own adapter module that reads the tool's version table in the
shape the tool writes it; they are imported only when asked for, so importing
this package stays cheap (no psycopg).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from berth.migrations.report import STATES, MigrationStatus, Report

if TYPE_CHECKING:
    from berth.migrations.files import MigrationFile
    from berth.migrations.status import Adapter

__all__ = [
    "STATES",
    "TOOLS",
    "MigrationStatus",
    "Report",
    "adapter",
    "apply",
    "read_status",
    "remember_checksums",
]

# The tools berth reads the version table of (config accepts these names), each
# with its adapter module: golang-migrate's is golang_migrate.
TOOLS = (
    "sql",
    "goose",
    "golang-migrate",
    "dbmate",
    "alembic",
    "django",
    "flyway",
    "rails",
    "prisma",
    "drizzle",
)
_ADAPTERS = {tool: "berth.migrations." + tool.replace("-", "_") for tool in TOOLS}


def adapter(tool: str) -> Adapter:
    """The module that reads ``tool``'s version table."""
    from berth.errors import ConfigError

    module = _ADAPTERS.get(tool)
    if module is None:
        raise ConfigError(
            f"unknown migration tool {tool!r}",
            hint="set [database] tool to one of " + ", ".join(_ADAPTERS),
        )
    return cast("Adapter", importlib.import_module(module))


def read_status(tool: str, conn: Any, files: list[MigrationFile]) -> Report:
    """Each file's state (and every applied migration without a file) in ``conn``'s database.

    Records first-seen checksums as a side effect (see :func:`remember_checksums`).
    """
    from berth.migrations.checksums import remember
    from berth.migrations.status import report

    seen = adapter(tool).observe(conn, files)
    return report(tool, seen, remember(conn, tool, seen))


def remember_checksums(tool: str, conn: Any, files: list[MigrationFile]) -> None:
    """Record the checksum of every applied migration berth has not seen applied before.

    For tools whose version table has no checksums, this is how berth later
    tells that a file was edited after it was applied. Call it right after
    running the tool, so the checksum recorded is the one that was applied.
    """
    from berth.migrations.checksums import remember

    remember(conn, tool, adapter(tool).observe(conn, files))


def apply(tool: str, conn: Any, files: list[MigrationFile]) -> list[MigrationFile]:
    """Apply pending migrations with berth's built-in runner; only for ``tool = "sql"``."""
    from berth.errors import ConfigError

    if tool != "sql":
        raise ConfigError(
            f"berth applies migrations itself only for tool = 'sql', not {tool!r}",
            hint="set [database] migrate to the command that runs " + tool,
        )
    from berth.migrations.sql import apply as apply_sql

    return apply_sql(conn, files)

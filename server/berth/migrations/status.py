"""What an adapter observes in a database, and how that becomes a :class:`Report`.

Adapters only translate a tool's version table and file names into an
:class:`Observation`; the verdict per file (applied, pending, edited, missing)
is made here, the same way for every tool.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg import sql

from berth.migrations.files import MigrationFile
from berth.migrations.report import MigrationStatus, Report

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Entry:
    """A migration file as its tool sees it."""

    key: str  # the tool's version key
    file: MigrationFile
    checksum: str  # comparable with what the tool (or berth's side table) recorded


@dataclass
class Observation:
    entries: list[Entry]  # in the order the tool applies them
    applied: dict[
        str, datetime | None
    ]  # key -> applied_at, for everything the table says is applied
    # Checksums the tool itself recorded (sql, flyway); None: berth's side table is used.
    recorded: dict[str, str] | None = None
    # Keys whose changed checksum means "will run again", not "edited" (flyway repeatables).
    rerun: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)  # names the table gives missing keys
    problems: list[str] = field(default_factory=list)
    order: Callable[[str], Any] = str  # sort key for migrations that have no file
    # The applied set is a guess (alembic head not on this branch): berth keeps
    # the checksums it remembered rather than forgetting what it cannot see.
    uncertain: bool = False


class Adapter(Protocol):
    def observe(self, conn: Conn, files: list[MigrationFile]) -> Observation: ...


def report(tool: str, seen: Observation, remembered: dict[str, str]) -> Report:
    recorded = remembered if seen.recorded is None else seen.recorded
    problems = [*seen.problems, *_duplicates(seen.entries)]
    items: list[MigrationStatus] = []
    for entry in seen.entries:
        when = seen.applied.get(entry.key)
        items.append(
            MigrationStatus(
                version=entry.key,
                name=entry.file.name,
                relpath=entry.file.relpath,
                state=_state(entry, seen, recorded),
                applied_at=when,
            )
        )
    on_disk = {entry.key for entry in seen.entries}
    for key in sorted(set(seen.applied) - on_disk, key=seen.order):
        name = seen.names.get(key, key)
        items.append(MigrationStatus(key, name, None, "missing", seen.applied[key]))
    return Report(tool, items, tuple(problems))


def _state(entry: Entry, seen: Observation, recorded: dict[str, str]) -> str:
    if entry.key not in seen.applied:
        return "pending"
    if recorded.get(entry.key, entry.checksum) == entry.checksum:
        return "applied"
    return "pending" if entry.key in seen.rerun else "edited"


def _duplicates(entries: list[Entry]) -> list[str]:
    first: dict[str, Entry] = {}
    found = []
    for entry in entries:
        other = first.setdefault(entry.key, entry)
        if other is not entry:
            found.append(f"{other.file.relpath} and {entry.file.relpath} share version {entry.key}")
    return found


def table_exists(conn: Conn, name: str) -> bool:
    """Whether ``name`` resolves on the search path, as the tool would find it."""
    row = conn.execute("SELECT to_regclass(%s)", (sql.Identifier(name).as_string(conn),))
    found = row.fetchone()
    return found is not None and found[0] is not None


def rows(conn: Conn, table: str, columns: list[str], order: str | None = None) -> list[Any]:
    """``SELECT columns FROM table [ORDER BY order]``, identifiers quoted."""
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(table)
    )
    if order is not None:
        query = sql.SQL("{} ORDER BY {}").format(query, sql.Identifier(order))
    return conn.execute(query).fetchall()


def numbered(files: list[MigrationFile], name: re.Pattern[str]) -> list[Entry]:
    """Files whose name ``name`` matches, keyed by their leading number as an integer.

    ``00002_x.sql`` is version 2 for goose, golang-migrate and Active Record alike.
    """
    found = [
        Entry(str(int(match.group(1))), f, f.checksum)
        for f in files
        if (match := name.match(f.name))
    ]
    return sorted(found, key=lambda e: int(e.key))


def by_number(key: str) -> tuple[int, int, str]:
    """Numeric versions in numeric order, anything else after them."""
    return (0, int(key), key) if key.isdigit() else (1, 0, key)

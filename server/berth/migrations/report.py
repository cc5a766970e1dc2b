"""What a migration status check finds: each migration's state, and the verdict on them all.

A leaf module: status.py builds these for every adapter, and the package
re-exports them (``from berth.migrations import Report``), so they live below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

STATES = ("applied", "pending", "edited", "missing")


@dataclass(frozen=True)
class MigrationStatus:
    version: str  # the tool's own key: goose version, alembic revision, "app.name" for django
    name: str  # file name, or the name the tool recorded when the file is missing
    relpath: str | None  # None when the migration is applied but has no file on this branch
    state: str  # one of STATES
    applied_at: datetime | None = None  # None when the tool does not record it

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "relpath": self.relpath,
            "state": self.state,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
        }


@dataclass(frozen=True)
class Report:
    tool: str
    items: list[MigrationStatus]
    # What keeps berth from giving a verdict: a dirty or failed migration,
    # an unreadable revision file, two files with one version.
    problems: tuple[str, ...] = ()

    def _count(self, state: str) -> int:
        return sum(1 for item in self.items if item.state == state)

    @property
    def applied(self) -> int:
        return self._count("applied")

    @property
    def pending(self) -> int:
        return self._count("pending")

    @property
    def edited(self) -> int:
        return self._count("edited")

    @property
    def missing(self) -> int:
        return self._count("missing")

    @property
    def state(self) -> str:
        """``ok``, or the most serious thing to act on: unknown > edited > ahead > pending."""
        if self.problems:
            return "unknown"
        if self.edited:
            return "edited"
        if self.missing:
            return "ahead"
        if self.pending:
            return "pending"
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "applied": self.applied,
            "pending": self.pending,
            "edited": self.edited,
            "missing": self.missing,
            "state": self.state,
            "problems": list(self.problems),
            "items": [item.to_json() for item in self.items],
        }

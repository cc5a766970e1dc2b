"""The step a migration tool reports as it applies a migration, read from its output.

For progress while a ``migrate`` command runs: Django's ``Applying app.0002_x...``,
alembic's ``Running upgrade a -> b``, dbmate's ``Applying: x.sql``, goose's
``OK x.sql``, golang-migrate's ``2/u name``, Rails' ``== 2024... Name: migrating``,
Flyway's ``Migrating schema ... to version "2 - x"``, Prisma's ``Applying
migration `x```. A line that names none is not a step.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_STEP = re.compile(
    r"Applying (?!migration )(\S+?)\.\.\."
    r"|Running upgrade \S* -> (\w+)"
    r"|^Applying: (\S+)"
    r"|\bOK\s+(\S+\.(?:sql|go))"
    r"|^(\d+/u \S+)"
    r"|^== (\d+ \w+): migrating"
    r'|Migrating schema \S+ to version "?([^"]+)'
    r"|Applying migration `([^`]+)`"
)


def step_of(line: str) -> str | None:
    """The migration ``line`` says the tool is applying, or None."""
    found = _STEP.search(line)
    return next((g for g in found.groups() if g), None) if found else None


def reporter(expected: int, progress: Callable[[str], None]) -> Callable[[str], None]:
    """A listener for a tool's output lines that reports about ten of its steps.

    ``expected``: the migrations berth saw to apply. The tool may apply more
    (Django's installed apps have migrations outside the worktree): the count
    is the tool's own steps.
    """
    every = max(1, expected // 10)
    count = 0

    def heard(line: str) -> None:
        nonlocal count
        step = step_of(line)
        if step is None:
            return
        count += 1
        if count == 1 or count % every == 0:
            progress(f"migration {count}: {step}")

    return heard

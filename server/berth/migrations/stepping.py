"""One migration at a time: the tool's own command that applies the next one, or rolls
back the last one, made from the project's ``migrate`` command.

A leaf module (the standard library and berth's errors and reports). Where a
tool has no such command (Flyway's community edition, Prisma and Drizzle have
no down; dbmate applies only all), the answer is a UsageError saying so.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from berth.errors import UsageError
from berth.migrations.report import MigrationStatus, Report

# (the migrate command's word, what applies one, what rolls one back); None: the tool cannot.
_WORDS: dict[str, tuple[str, str | None, str | None]] = {
    "goose": ("up", "up-by-one", "down"),
    "golang-migrate": ("up", "up 1", "down 1"),
    "dbmate": ("up", None, "rollback"),
    "alembic": ("upgrade", "upgrade +1", "downgrade -1"),
    "rails": ("db:migrate", None, "db:rollback"),
    "flyway": ("migrate", None, None),
    "prisma": ("deploy", None, None),
    "drizzle": ("migrate", None, None),
}


def _refuse(tool: str, down: bool) -> UsageError:
    what = "roll back" if down else "apply"
    return UsageError(
        f"{tool} has no command to {what} one migration that berth can run",
        hint="berth migrate applies every pending one"
        if not down
        else "write a migration that undoes it, or berth reset for a fresh database",
    )


def command(tool: str, migrate: str | None, report: Report, *, down: bool) -> str | None:
    """The command that applies the next pending migration (``down``: rolls back the last
    applied one); None for berth's own ``sql`` runner, which berth runs itself."""
    if tool == "sql":
        if down:
            raise UsageError(
                "berth's sql runner has no down migrations",
                hint="write a migration that undoes it, or berth reset for a fresh database",
            )
        return None
    if tool == "django":
        return _django(migrate, report, down=down)
    word, one, back = _WORDS.get(tool, ("", None, None))
    replacement = back if down else one
    # The command as written (its quoting and "$DATABASE_URL" kept), its last use of the
    # tool's word replaced; alembic's word takes a target (upgrade heads): both go.
    target = r"(?:\s+\S+)?" if tool == "alembic" else ""
    found = list(re.finditer(rf"(?<=\s){re.escape(word)}{target}(?=\s|$)", migrate or ""))
    if replacement is None or not word or not found:
        if replacement is not None:  # the tool can, but its migrate command is not the usual
            raise UsageError(
                f"berth cannot tell how to step {tool} from migrate = {migrate!r}",
                hint=f"run the tool yourself: {tool} {replacement}",
            )
        raise _refuse(tool, down)
    last = found[-1]
    text = migrate or ""
    return text[: last.start()] + replacement + text[last.end() :]


def _django(migrate: str | None, report: Report, *, down: bool) -> str:
    """``manage.py migrate APP NAME``: to the next pending migration, or back to the one
    before the last applied (``zero`` when it was the app's first)."""
    text = migrate or "python manage.py migrate"
    found = re.search(r"(?<=\s)migrate(?=\s|$)", text)
    if found is None:
        raise UsageError(
            f"berth cannot tell how to step Django from migrate = {migrate!r}",
            hint="run python manage.py migrate APP NAME yourself",
        )
    program = text[: found.end()]
    if not down:
        item = next((i for i in report.items if i.state == "pending"), None)
        if item is None:
            raise UsageError("no pending migration", hint="berth migrations lists them")
        app, name = item.version.split(".", 1)
        return f"{program} {shlex.quote(app)} {shlex.quote(name)} --noinput"
    applied = [i for i in report.items if i.state == "applied" and i.relpath]
    if not applied:
        raise UsageError("no applied migration to roll back", hint="berth migrations lists them")
    last = max(applied, key=_applied_order)
    app = last.version.split(".", 1)[0]
    before = [i for i in applied if i.version.split(".", 1)[0] == app and _name(i) < _name(last)]
    target = max(before, key=_name).version.split(".", 1)[1] if before else "zero"
    return f"{program} {shlex.quote(app)} {shlex.quote(target)} --noinput"


def _name(item: MigrationStatus) -> str:
    return Path(item.relpath or item.name).stem


def _applied_order(item: MigrationStatus) -> tuple[str, str]:
    return (item.applied_at.isoformat() if item.applied_at else "", _name(item))

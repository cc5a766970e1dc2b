"""Writing migrations: the next file's name in the tool's own style, and the SQL a file runs.

A leaf module (the standard library and berth's errors): the verbs in
verbs/authoring.py decide when to write a file and when to ask the tool itself.

Tools whose migrations are plain files get them from berth (``sql``, goose,
dbmate, golang-migrate, Flyway); the others generate their own (Django's
``makemigrations``, alembic's ``revision``, Rails' generator, Prisma, Drizzle),
which berth runs in the berth's environment.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from berth.errors import UsageError

# What a migration's name may become: lower case words joined by underscores.
_WORD = re.compile(r"[^a-z0-9]+")
_MAX_NAME = 60
_NUMBER = re.compile(r"^[Vv]?(\d+)")
_GOOSE_UP = re.compile(r"^--\s*\+goose\s+Up\b.*$", re.I | re.M)
_DBMATE_UP = re.compile(r"^--\s*migrate:up\b.*$", re.M)
_TIMESTAMP_DIGITS = 14  # YYYYMMDDHHMMSS, what goose, dbmate and migrate -ext use by default

# File-based tools: the body of a new file (its up and down sections).
_BODIES = {
    "sql": "-- {name}\n\n",
    "goose": "-- +goose Up\n\n\n-- +goose Down\n\n",
    "dbmate": "-- migrate:up\n\n\n-- migrate:down\n\n",
    "golang-migrate": "",
    "flyway": "-- {name}\n\n",
}
FILE_TOOLS = tuple(_BODIES)

# Tools that make their own files: the command, run in the worktree with the berth's env.
# Its program is the one the project's migrate command runs (up to the word here), so
# ``.venv/bin/python manage.py migrate`` gives ``.venv/bin/python manage.py makemigrations``.
_COMMANDS = {
    "django": ("python manage.py", "migrate", "makemigrations {app} --empty --name {name}"),
    "alembic": ("alembic", "upgrade", "revision -m {name}"),
    "rails": ("bin/rails", "db:migrate", "generate migration {camel}"),
    "prisma": ("npx prisma", "migrate", "migrate dev --create-only --name {name}"),
    "drizzle": ("npx drizzle-kit", "migrate", "generate --custom --name={name}"),
}


@dataclass(frozen=True)
class NewFile:
    """A file berth writes: its path and its first content."""

    path: Path
    content: str


def slug(name: str) -> str:
    """``"Add users' e-mail"`` becomes ``add_users_e_mail``; nothing usable is an error."""
    words = _WORD.sub("_", name.lower()).strip("_")[:_MAX_NAME].strip("_")
    if not words:
        raise UsageError(
            f"{name!r} gives no migration name",
            hint="name it with letters or digits, e.g. add_users_email",
        )
    return words


def tool_command(tool: str, name: str, app: str | None, migrate: str | None) -> str | None:
    """The tool's own command that makes the migration ``name``; None for file tools.

    ``migrate``: the project's migrate command, whose program (and its arguments up to
    the tool's migrate word) the new command starts with, when it has that word.
    """
    found = _COMMANDS.get(tool)
    if found is None:
        return None
    program, word, template = found
    words = shlex.split(migrate or "")
    if word in words[1:]:
        program = shlex.join(words[: words.index(word, 1)])
    camel = "".join(part.capitalize() for part in name.split("_"))
    arguments = template.format(name=name, app=app or "", camel=camel).replace("  ", " ")
    return f"{program} {arguments}"


def next_files(tool: str, folder: Path, name: str, now: datetime) -> list[NewFile]:
    """The file(s) of a new migration ``name`` in ``folder``, numbered after its last one.

    A folder numbered by timestamps gets the timestamp ``now``; one numbered 1, 2, 3
    gets the next number in the same width (``0003``), as the tool's own generator.
    """
    numbers = [
        (len(match.group(1)), int(match.group(1)))
        for path in (folder.iterdir() if folder.is_dir() else ())
        if (match := _NUMBER.match(path.name))
    ]
    width, last = max(numbers, key=lambda n: n[1], default=(4, 0))
    if width >= _TIMESTAMP_DIGITS or (not numbers and tool in ("dbmate", "golang-migrate")):
        version = max(now.strftime("%Y%m%d%H%M%S"), str(last + 1))
    else:
        version = str(last + 1).zfill(width if numbers else (5 if tool == "goose" else 4))
    body = _BODIES[tool].format(name=name)
    if tool == "golang-migrate":
        return [
            NewFile(folder / f"{version}_{name}.up.sql", body),
            NewFile(folder / f"{version}_{name}.down.sql", body),
        ]
    if tool == "flyway":
        return [NewFile(folder / f"V{int(version)}__{name}.sql", body)]
    return [NewFile(folder / f"{version}_{name}.sql", body)]


def up_sql(tool: str, text: str) -> str | None:
    """The SQL a migration file runs on the way up; None when it is not SQL (Ruby, Python)."""
    if tool == "goose":
        return _section(text, _GOOSE_UP, r"\+goose\s+Down")
    if tool == "dbmate":
        return _section(text, _DBMATE_UP, r"migrate:down")
    if tool in ("sql", "golang-migrate", "flyway", "prisma", "drizzle"):
        return text
    return None


def _section(text: str, start: re.Pattern[str], end: str) -> str:
    found = start.search(text)
    body = text[found.end() :] if found else text
    stop = re.search(rf"^--\s*{end}\b", body, re.I | re.M)
    return (body[: stop.start()] if stop else body).strip("\n") + "\n"

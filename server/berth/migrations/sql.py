"""berth's built-in runner for plain ``.sql`` files: each file in its own transaction.

The table ``berth_schema_migrations`` records every applied file with the
sha256 of its content, so a file edited after it was applied is reported
(never re-run).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from berth.errors import MigrationError
from berth.migrations.files import MigrationFile
from berth.migrations.status import Entry, Observation, by_number
from berth.pg import extensions

TABLE = "berth_schema_migrations"
# Session advisory lock so two `berth migrate` runs on one database apply each file once.
_LOCK_KEY = 0x6265_7274_6873_716C  # "berthsql"

Conn = psycopg.Connection[Any]


def ensure_table(conn: Conn) -> None:
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " version text PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(TABLE))
    )


def applied_rows(conn: Conn) -> dict[str, tuple[str, str, datetime]]:
    """``{version: (name, checksum, applied_at)}``; empty when the table does not exist."""
    row = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
    if row is None or row[0] is None:
        return {}
    rows = conn.execute(
        sql.SQL("SELECT version, name, checksum, applied_at FROM {}").format(sql.Identifier(TABLE))
    ).fetchall()
    return {str(v): (str(n), str(c), a) for v, n, c, a in rows}


def observe(conn: Conn, files: list[MigrationFile]) -> Observation:
    """Status adapter: the table carries sha256 checksums, so no side table is needed."""
    done = applied_rows(conn)
    return Observation(
        entries=[Entry(f.version, f, f.checksum) for f in files],
        applied={version: at for version, (_, _, at) in done.items()},
        recorded={version: checksum for version, (_, checksum, _) in done.items()},
        names={version: name for version, (name, _, _) in done.items()},
        order=by_number,
    )


def apply(
    conn: Conn,
    files: list[MigrationFile],
    retry: str = "berth migrate",
    progress: Callable[[str], None] | None = None,
) -> list[MigrationFile]:
    """Apply the files not yet recorded, in order; return the ones applied.

    ``retry`` is the command a failure's hint tells the user to run again;
    ``progress`` hears "migration N of M" about ten times over a long run.
    """
    _check_unique(files)
    ensure_table(conn)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        done = applied_rows(conn)
        todo = [file for file in files if file.version not in done]
        every = max(1, len(todo) // 10)
        for number, file in enumerate(todo, 1):
            if progress is not None and (number % every == 0 or number == len(todo)):
                progress(f"migration {number} of {len(todo)}: {file.relpath}")
            _apply_one(conn, file, retry)
        return todo
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


_QUOTED = re.compile(
    r"--[^\n]*"  # a line comment
    r"|/\*.*?\*/"  # a block comment
    r"|'(?:[^']|'')*'"  # a string
    r'|"(?:[^"]|"")*"'  # a quoted identifier
    r"|(\$[A-Za-z_0-9]*\$).*?\1",  # a dollar-quoted body (functions, DO blocks)
    re.DOTALL,
)
_CONTROL = re.compile(
    r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|PREPARE\s+TRANSACTION)\b",
    re.IGNORECASE,
)


def transaction_control(script: str) -> tuple[str, int] | None:
    """The first statement that begins or ends a transaction, and its line; None if none.

    Comments, strings and dollar-quoted bodies are skipped: ``BEGIN ... END;`` inside
    a function body is PL/pgSQL, not transaction control.
    """
    bare = _QUOTED.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), script)
    offset = 0
    for statement in bare.split(";"):
        found = _CONTROL.match(statement)
        if found:
            start = offset + found.start(1)
            return found.group(1).upper(), script.count("\n", 0, start) + 1
        offset += len(statement) + 1
    return None


# Files written for dbmate or goose carry their down migration too: only "up" runs.
_SECTION = re.compile(r"^--\s*(?:migrate:(up|down)|\+goose\s+(Up|Down))\b(.*)$", re.IGNORECASE)
_NO_TRANSACTION = re.compile(r"transaction:\s*false|\+goose\s+NO\s+TRANSACTION", re.IGNORECASE)


def up_section(text: str, relpath: str = "") -> str:
    """``text`` with any dbmate/goose down section blanked out (line numbers kept).

    A file with no section markers is all "up". One that must run outside a
    transaction (``transaction:false``, ``+goose NO TRANSACTION``) is refused:
    the built-in runner runs every file in one.
    """
    lines = text.split("\n")
    keep = True
    for number, line in enumerate(lines):
        marker = _SECTION.match(line.strip())
        if marker is None:
            if keep and _NO_TRANSACTION.search(line) and line.lstrip().startswith("--"):
                raise MigrationError(
                    f"migration {relpath}:{number + 1} must run outside a transaction,"
                    " which the built-in sql runner does not do",
                    hint="set [database] tool (and migrate) to the tool it was written for,"
                    ' e.g. tool = "dbmate" or "goose"',
                )
            if not keep:
                lines[number] = ""
            continue
        keep = (marker.group(1) or marker.group(2)).lower() == "up"
        if _NO_TRANSACTION.search(marker.group(3)) and keep:
            raise MigrationError(
                f"migration {relpath}:{number + 1} must run outside a transaction,"
                " which the built-in sql runner does not do",
                hint="set [database] tool (and migrate) to the tool it was written for,"
                ' e.g. tool = "dbmate" or "goose"',
            )
    return "\n".join(lines)


def _apply_one(conn: Conn, file: MigrationFile, retry: str) -> None:
    script = up_section(file.path.read_bytes().decode("utf-8", errors="replace"), file.relpath)
    control = transaction_control(script)
    if control is not None:
        raise MigrationError(
            f"migration {file.relpath}:{control[1]} has its own {control[0]}: berth runs each"
            " file in one transaction, and cannot roll back what it commits",
            hint=f"remove its BEGIN/COMMIT (nothing of it was applied); then {retry} again",
        )
    try:
        with conn.transaction():
            if script.strip():
                # No parameters: psycopg sends the file as one simple query, so a
                # file may hold many statements and '%' needs no escaping.
                conn.execute(script.encode())
            conn.execute(
                sql.SQL("INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)").format(
                    sql.Identifier(TABLE)
                ),
                (file.version, file.name, file.checksum),
            )
    except psycopg.Error as exc:
        lacking = extensions.missing(_first_line(exc))
        raise MigrationError(
            f"migration {file.relpath}{_where(exc, script)} failed: {_first_line(exc)}",
            hint=extensions.hint(lacking)
            if lacking
            else (
                f"nothing of {file.name} was applied (each file runs in one transaction); "
                f"fix it and run {retry} again"
            ),
        ) from None


def _check_unique(files: list[MigrationFile]) -> None:
    seen: dict[str, MigrationFile] = {}
    for file in files:
        other = seen.setdefault(file.version, file)
        if other is not file:
            raise MigrationError(
                f"migrations {other.relpath} and {file.relpath} share version {file.version}",
                hint="give every migration file its own leading number",
            )


def _first_line(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    text = primary or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _where(exc: psycopg.Error, script: str) -> str:
    """`` (line N)`` from the error's character position in the file, if Postgres gave one."""
    position = exc.diag.statement_position if exc.diag else None
    if not position or not position.isdigit():
        return ""
    line = script[: int(position) - 1].count("\n") + 1
    return f" (line {line})"

"""The user's migrate and seed commands: run in their own process group, with the
environment berth gives them, their output kept and every password masked.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from berth import redact
from berth.errors import MigrationError
from berth.pg import builds, commandlog, extensions
from berth.pg.server import Server

# The environment users' commands start from. The sidecar sets it to its
# client's for each request: its own belongs to whoever happened to start it.
caller_env: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "caller_env", default=None
)


def run_command(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str],
    failure: str,
    hint: str,
    passwords: Iterable[str | None] = (),
    timeout: float | None = None,
    timeout_note: tuple[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run a user's migrate or seed command (its output, passwords masked); a failure is a
    MigrationError naming its line.

    In a process group of its own, all of it stopped past ``timeout`` seconds
    (``timeout_note``: the error's end and hint); ``on_start`` hears the group's
    id; ``on_line`` each line of its output as it comes. Every password in
    ``env`` and ``passwords``, and any URL's, is masked in what berth relays of
    its output (which may print ``DATABASE_URL``).
    """
    # -e: a multi-line command stops at its first failing line, as a script would.
    argv = ["/bin/sh", "-ec", command]
    hidden = redact.secrets_in(env) | {p for p in passwords if p}
    heard = (lambda line: on_line(redact.mask(line, hidden))) if on_line else None
    code, out, err = builds.run_group(
        argv, cwd=cwd, env=env, timeout=timeout, on_start=on_start, on_line=heard
    )
    kept = commandlog.keep(command, code, out, err, hidden)
    where = f"; its whole output: {kept}" if kept else ""
    if code is None:
        note, hint = timeout_note or (f"it did not finish within {timeout:g}s", "it was stopped")
        raise MigrationError(
            f"{failure}: {note}",
            hint=redact.mask(f"{hint}; the command was: {command}{where}", hidden),
        )
    if code != 0:
        line = commandlog.telling_line(redact.mask(err or out, hidden))
        lacking = extensions.missing(err + out)
        hint = extensions.hint(lacking) if lacking else f"{hint}; the command was: {command}"
        raise MigrationError(
            f"{failure} (exit {code}): {line}", hint=redact.mask(f"{hint}{where}", hidden)
        )
    return redact.mask(out, hidden)


def server_secrets(server: Server) -> tuple[str, ...]:
    """The admin's password, when the server's conninfo has one (an external server)."""
    password = server.admin.get("password")
    return (password,) if isinstance(password, str) and password else ()


def command_env(server: Server, extra: dict[str, str]) -> dict[str, str]:
    """The environment for a user's migrate or seed command.

    PostgreSQL's client tools (psql, pg_dump) of berth's server come last on
    PATH, so commands can use them even where none are installed.
    """
    env = {**(caller_env.get() or os.environ), **extra}
    bindir = None
    if server.cluster is not None:
        bindir = server.cluster.meta().get("bindir")
    if bindir is None:
        with contextlib.suppress(Exception):
            from berth.pg.binaries import find_binaries

            bindir = str(find_binaries(os.environ.get("BERTH_PG_BIN")).bindir)
    if bindir:
        env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH"), str(bindir)]))
    return env

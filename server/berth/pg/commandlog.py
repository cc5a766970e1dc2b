"""The whole output of every migrate and seed command berth runs, kept (masked).

A failure's one-line message names the line that tells what went wrong, and
its hint the file with everything the command printed: ``<berth home>/logs/
commands/``, 0600, the newest 50 kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

KEEP = 50
# What a tool's failure usually says on the line that matters (Django, alembic,
# dbmate, psql, Go): a later line is often a URL to docs or a summary.
_TELLING = re.compile(r"(error|exception|fatal|panic)\s*:|\bfailed\b|\bdenied\b", re.IGNORECASE)


def telling_line(output: str) -> str:
    """The last line that names an error; else the last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return "no output"
    for line in reversed(lines):
        if _TELLING.search(line):
            return line
    return lines[-1]


def keep(command: str, code: int | None, out: str, err: str, hidden: set[str]) -> Path | None:
    """Write the run's output, ``hidden`` masked, to a file of its own; None if it cannot."""
    from berth.fsutil import private_dirs, write_private
    from berth.redact import mask
    from berth.settings import load_settings

    try:
        where = private_dirs(load_settings().log_dir / "commands")
        path = where / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns()}.log"
        status = "timed out" if code is None else f"exit {code}"
        text = f"$ {command}\n# {status}\n# stdout\n{out}\n# stderr\n{err}\n"
        write_private(path, mask(text, hidden))
        _prune(where)
    except Exception:  # the output is a help; the command's result stands without it
        return None
    return path


def _prune(where: Path) -> None:
    logs = sorted(where.glob("*.log"))
    for old in logs[:-KEEP]:
        with contextlib.suppress(OSError):
            old.unlink()

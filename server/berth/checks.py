"""The checks behind berth's pre-commit hooks (``.pre-commit-hooks.yaml``).

``berth check migrations`` blocks a commit whose migrations are not applied
to this worktree's berth; ``berth check env-files`` blocks committing the env
file berth wrote (it holds the berth's password).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from berth.context import Context
from berth.envblock import START
from berth.envfile import HEADER

DEFAULT_ENV_FILE = ".env.berth"
_HEADER = HEADER.encode()
_BLOCK = START.encode()
_SCAN_BYTES = 256 * 1024  # of a file named like an env file, for berth's block
# What each bad state needs, named in the failure message.
FIXES = {
    "pending": "berth migrate",
    "edited": "berth reset (a fresh copy built from the edited files), or undo the edit",
}


def _written_by_berth(path: Path) -> bool:
    """Starts with berth's header, or (an env file of the user's, ``env_block``) holds its block."""
    envish = ".env" in path.name  # only these are read further than berth's header
    try:
        with path.open("rb") as handle:
            head = handle.read(_SCAN_BYTES if envish else len(_HEADER))
    except OSError:
        return False
    return head.startswith(_HEADER) or (envish and _BLOCK in head)


def env_files(paths: list[Path], env_file: str = DEFAULT_ENV_FILE) -> list[str]:
    """The files among ``paths`` that are berth's env files: by name, by berth's header, or
    by its block in an env file."""
    names = {env_file, DEFAULT_ENV_FILE}
    return [str(p) for p in paths if p.name in names or _written_by_berth(p)]


def _in_git(root: Path, dirs: Sequence[str]) -> set[str]:
    """The files under ``dirs`` that git tracks or has staged (relative to ``root``)."""
    from berth.git import run_git

    return {p for p in run_git(["ls-files", "-z", "--", *dirs], root).split("\0") if p}


def migrations(ctx: Context) -> dict[str, Any]:
    """Pending or edited-after-apply migrations of this worktree's berth."""
    from berth import instance, lifecycle

    worktree, config = ctx.need_worktree()
    ident = instance.read_id(worktree)
    record = ctx.registry.get(ident) if ident else None
    if not config.database.migrations or record is None or record.state != "active":
        why = "no migrations configured" if not config.database.migrations else "no berth here"
        return {"ok": True, "instance": ident, "skipped": why, "problems": []}
    report = lifecycle.migration_report(ctx, record)
    known = _in_git(worktree.root, config.database.migrations)
    problems = [
        {"file": item.relpath or item.name, "state": item.state, "fix": FIXES[item.state]}
        for item in report.items
        if item.state in FIXES
        # A new file git does not know yet (untracked, not staged) is not in this commit.
        and not (item.state == "pending" and item.relpath and item.relpath not in known)
    ]
    problems += [
        {"file": None, "state": "unknown", "detail": p, "fix": "berth migrations shows why"}
        for p in report.problems
    ]
    return {
        "ok": not problems,
        "instance": record.id,
        "database": record.database,
        "problems": problems,
    }

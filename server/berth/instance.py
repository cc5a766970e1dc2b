"""The berth id of a worktree, kept in its private git dir (never in the work tree)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

from berth import locks
from berth.core.naming import is_id, new_id
from berth.fsutil import write_private
from berth.git import Worktree

LOCK_FILE = "berth.lock"  # in the worktree's git dir: held while a berth command works on it


def read_id(worktree: Worktree) -> str | None:
    return id_in(worktree.git_dir)


def id_in(git_dir: Path) -> str | None:
    """The berth id a worktree's git dir names (its ``berth.json``), if any."""
    try:
        data = json.loads((git_dir / "berth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not JSON, not UTF-8
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and is_id(value) else None


def ensure_id(worktree: Worktree, project: str) -> str:
    existing = read_id(worktree)
    if existing:
        return existing
    instance = new_id()
    data = {**_read(worktree.git_dir), "id": instance, "project": project}
    data["created_at"] = time.time()
    write_private(worktree.berth_file, json.dumps(data, indent=2) + "\n")
    return instance


def port_base(git_dir: Path) -> int | None:
    """The first port of a range an orchestrator handed this worktree (``--port-base``)."""
    value = _read(git_dir).get("port_base")
    return value if isinstance(value, int) and 1024 <= value <= 65535 else None


def set_port_base(worktree: Worktree, value: int | None) -> None:
    """Pin this worktree's ports to ``value`` and up (None: back to its slot's)."""
    data = _read(worktree.git_dir)
    if data.get("port_base") == value:
        return
    data.pop("port_base", None)
    if value is not None:
        data["port_base"] = value
    write_private(worktree.berth_file, json.dumps(data, indent=2) + "\n")


def _read(git_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((git_dir / "berth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def locked(git_dir: Path) -> Iterator[None]:
    """Serialise berth commands on one worktree (two hooks firing at once, say)."""
    with locks.hold(git_dir / LOCK_FILE, f"the worktree of {git_dir}"):
        yield

"""What hooks, the sidecar, the editor and ``berth wait`` share about a worktree's hook work.

The hook's lock, result and log files in the worktree's git dir, the list of
git dirs a repository's shim watches, and when a worktree counts as gone.
Everything here is a file read or write: no Postgres, no git command.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth import fsutil, locks

if TYPE_CHECKING:
    from berth.registry import BerthRecord, Registry

LOCK_FILE = "berth-hook.lock"  # held by a worker for its whole life
LOG_FILE = "berth-hook.log"  # the worker's progress and errors
RESULT_FILE = "berth-hook.json"  # the worker's JSON result (or error object)
GITDIRS_FILE = "berth-gitdirs"  # in the common dir: git dirs of this repository's berths


def take_hook_lock(git_dir: Path) -> int | None:
    """The worktree's ``berth-hook.lock``, locked, as a descriptor; None when someone has it.

    Whoever holds it (an inline worker, or the sidecar for a request) is what
    ``berth wait`` waits on.
    """
    return locks.try_lock(git_dir / LOCK_FILE)


def last_result(git_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((git_dir / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def last_log_line(git_dir: Path) -> str:
    try:
        lines = (git_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no output"
    lines = [line for line in lines if line.strip() and not line.startswith("hint:")]
    return lines[-1].removeprefix("berth: error: ") if lines else "no output"


def belongs_to(common_dir: Path, git_dir: Path) -> bool:
    return git_dir == common_dir or git_dir.parent == common_dir / "worktrees"


def write_gitdirs(common_dir: Path, registry: Registry) -> None:
    """``<common dir>/berth-gitdirs``: the shim retires berths when one of these vanishes."""
    dirs = sorted(
        {
            record.git_dir
            for record in registry.list()
            if record.state != "trashed" and belongs_to(common_dir, Path(record.git_dir))
        }
    )
    path = common_dir / GITDIRS_FILE
    if not dirs:
        path.unlink(missing_ok=True)
        return
    fsutil.write_private(path, "".join(f"{d}\n" for d in dirs))


def vanished_gitdirs(common_dir: Path) -> list[str]:
    try:
        lines = (common_dir / GITDIRS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line for line in lines if line and not Path(line).is_dir()]


def worktree_gone(record: BerthRecord) -> bool:
    """True when git would prune the worktree: its git dir is gone, or its work tree is.

    A worktree that ``git worktree lock`` protects (a removable disk, say) is not gone.
    """
    git_dir = Path(record.git_dir)
    if not git_dir.is_dir():
        return True
    if (git_dir / "locked").exists():
        return False
    try:
        dot_git = (git_dir / "gitdir").read_text(encoding="utf-8").strip()
    except OSError:
        return False  # the main checkout: its git dir is the repository itself
    if not Path(dot_git).exists():
        return True
    # A worktree removed and added again at the same path has a new git dir of the
    # same name: the berth whose id it no longer names is gone with the old one.
    from berth.instance import id_in

    return id_in(git_dir) != record.id


@contextlib.contextmanager
def relayed(log: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Pass on each line the hook's worker writes to its log, until the block ends."""
    done = threading.Event()

    def follow() -> None:
        offset, rest = 0, b""
        while True:
            finished = done.is_set()  # read once more after the worker is gone
            offset, rest = _relay(log, offset, rest, say)
            if finished:
                return
            done.wait(0.2)

    thread = threading.Thread(target=follow, name="berth-wait-log", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def _relay(log: Path, offset: int, rest: bytes, say: Callable[[str], None]) -> tuple[int, bytes]:
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return offset, rest
    try:
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    *lines, rest = (rest + data).split(b"\n")
    for line in lines:
        say(line.decode("utf-8", errors="replace"))
    return offset + len(data), rest

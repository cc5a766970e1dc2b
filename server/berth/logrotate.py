"""Size-based rotation of berth's log files: ``berth.log`` full, it becomes ``berth.log.1``.

Many processes append to one log (every berth command, the sidecar, hook
workers, editors' servers), so none ever truncates it. The process that finds
the file full renames it aside (``.1`` to ``.2`` and so on, the oldest
dropped) under a lock next to it; every writer, seeing that its file is no
longer the one at the path, opens the new one (created 0600, never through a
link). A line written between the rename and that reopening lands in ``.1``;
only what falls off the end of ``KEEP`` is lost.

Standard library only, and no ``logging``: the sidecar's launcher, on the hook
path, rotates its log too. The log handler that rotates is ``berth.logs.RotatingFile``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from berth import locks
from berth.errors import BerthError

MAX_BYTES = 5 * 1024 * 1024  # a log this big is renamed aside ...
KEEP = 3  # ... as .1; the old .1 becomes .2, .2 becomes .3, .3 goes


def old_names(path: Path, keep: int = KEEP) -> list[Path]:
    """``path.1`` … ``path.<keep>``: where a log's older parts go, newest first."""
    return [path.with_name(f"{path.name}.{n}") for n in range(1, keep + 1)]


def lock_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.lock")


def rotate(path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> bool:
    """Rename ``path`` aside when it is a regular file of ``max_bytes`` or more.

    True when this call rotated it. False when there was nothing to do, or
    another process holds the rotation lock (it is rotating: the caller goes
    on with the file it has). Links are never followed: a link at ``path`` or
    at one of the old names is renamed or dropped like a file, its target left alone.
    """
    path = Path(path)
    seen = _full(path, max_bytes)
    if seen is None:
        return False
    try:
        fd = locks.try_lock(lock_name(path))
    except (BerthError, OSError):
        return False  # a lock file that is not ours: better a long log than a hang
    if fd is None:
        return False
    try:
        now = _full(path, max_bytes)
        if now is None or identity(now) != identity(seen):
            return False  # rotated by another process while we looked
        _shift(path, keep)
        return True
    finally:
        os.close(fd)


def _full(path: Path, max_bytes: int) -> os.stat_result | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size < max_bytes:
        return None
    return info


def identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _shift(path: Path, keep: int) -> None:
    """``.1`` to ``.2`` … as far as they run unbroken (the last one dropped), then ``path``
    to ``.1``. ``replace`` replaces a link at the new name itself, never its target."""
    old = old_names(path, max(keep, 1))
    run = 0
    while run < len(old) - 1 and (old[run].is_symlink() or old[run].exists()):
        run += 1
    for n in range(run, 0, -1):
        old[n - 1].replace(old[n])
    path.replace(old[0])

"""Every file lock berth takes: private, bounded, and naming whoever holds it.

A lock file is ours alone (0600, never a link, never another user's: another
local user who could open it could hold it and hang us). A wait has a limit
(``BERTH_LOCK_TIMEOUT`` seconds, default 900) and then fails with the pid and
command that holds the lock, which the holder writes into the file. Within a
thread a lock is re-entrant: ``up`` calls ``restore``, which locks again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from berth.errors import ConflictError, OwnershipError
from berth.fsutil import open_lock

DEFAULT_TIMEOUT = 900.0  # longer than a template build may take (its own timeout is shorter)
_held = threading.local()


def timeout_setting() -> float:
    try:
        return float(os.environ.get("BERTH_LOCK_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


def open_private(path: Path) -> int:
    """``path`` open for flock: created 0600, refused when a link or not ours; tightened."""
    fd = open_lock(path)
    info = os.fstat(fd)
    if info.st_uid != os.geteuid():
        os.close(fd)
        raise OwnershipError(
            f"lock file {path} belongs to uid {info.st_uid}, not to this user",
            hint="another user may hold it to make berth wait: remove it (berth makes its own)",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, 0o600)  # made by an older berth: nobody else may open it from now on
    return fd


def holder(path: Path) -> str:
    """Who holds ``path``, as its holder wrote it (``pid 123 (berth reset)``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return "another process"
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    finally:
        os.close(fd)
    return text or "another process"


def _mark(fd: int) -> None:
    command = " ".join(["berth", *sys.argv[1:2]]) if sys.argv[1:] else Path(sys.argv[0]).name
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({command})\n".encode(), 0)


def try_lock(path: Path) -> int | None:
    """``path`` locked, as a descriptor the caller closes; None when someone holds it."""
    fd = open_private(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    _mark(fd)
    return fd


@contextlib.contextmanager
def hold(path: Path, what: str, timeout: float | None = None) -> Iterator[None]:
    """Hold ``path``'s lock for the block; wait at most ``timeout`` seconds for it.

    ``what`` names the lock in the error: ``"berth 1a2b"``, ``"the server"``.
    """
    key = str(Path(path).absolute())
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
    limit = timeout_setting() if timeout is None else timeout
    fd = open_private(Path(key))
    try:
        _wait(fd, Path(key), what, limit)
        _mark(fd)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait(fd: int, path: Path, what: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"{what} is busy: {holder(path)} has held {path} for over {limit:g} s",
                    hint="wait for it to finish, or stop that process"
                    " (BERTH_LOCK_TIMEOUT sets how long berth waits)",
                ) from None
            # flock has no timed wait: poll, backing off to 50 ms.
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def is_held(path: Path) -> bool:
    """Whether some process holds ``path``'s lock (without taking it for long)."""
    try:
        fd = open_private(path)
    except (OSError, OwnershipError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

"""Starting the sidecar: ten clients at once still make one daemon.

Standard library only, as the client that uses it: git hooks import this.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from berth import locks
from berth.errors import ConflictError, OwnershipError
from berth.fsutil import open_append
from berth.gitenv import clean_env
from berth.logrotate import rotate
from berth.sidecar import protocol
from berth.sidecar.protocol import Paths

START_TIMEOUT = 20.0
CONNECT_TIMEOUT = 2.0


class Unavailable(Exception):
    """The sidecar cannot be reached or started: do the work inline."""


def connect(paths: Paths | None = None, timeout: float = CONNECT_TIMEOUT) -> socket.socket | None:
    """A connection to the running sidecar, or None when none answers."""
    where = paths or protocol.paths()
    found = _connect(where.socket, timeout)
    if found is None and where.link != where.socket:
        # A sidecar started without XDG_RUNTIME_DIR listens in the home's run/.
        found = _connect(where.link, timeout)
    return found


def _connect(path: Path, timeout: float) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with protocol.address(path) as address:
            sock.connect(address)
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    return sock


def prepare_run_dir(paths: Paths) -> None:
    """The 0700 directories of the socket and the locks, owned by us; refuse anything else."""
    _own_dir(paths.home_run_dir, parents=True)
    if paths.run_dir != paths.home_run_dir:
        _own_dir(paths.run_dir.parent, parents=False)  # $XDG_RUNTIME_DIR/berth
        _own_dir(paths.run_dir, parents=False)
    reason = protocol.too_long(paths.socket)
    if reason is not None:
        raise Unavailable(f"{reason}; set BERTH_HOME or XDG_RUNTIME_DIR to a shorter path")


def _own_dir(path: Path, *, parents: bool) -> None:
    """``path`` is a directory of ours, 0700, and not a link (lstat: never followed)."""
    try:
        path.mkdir(parents=parents, exist_ok=True, mode=0o700)
        info = path.lstat()
    except OSError as exc:
        raise Unavailable(f"cannot make {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise Unavailable(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise Unavailable(f"{path} belongs to uid {info.st_uid}, not to us")
    if info.st_mode & 0o077:
        path.chmod(0o700)


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        try:  # another client may be starting the sidecar: wait our turn
            stack.enter_context(locks.hold(path, "starting the sidecar", timeout))
        except ConflictError:
            raise Unavailable(f"{path} stayed locked for {timeout:.0f}s") from None
        except OwnershipError as exc:
            raise Unavailable(exc.message) from None
        yield


def start(paths: Paths | None = None, timeout: float = START_TIMEOUT) -> None:
    """Start the sidecar unless one answers. Ten clients at once still make one daemon."""
    where = paths or protocol.paths()
    prepare_run_dir(where)
    with _locked(where.start_lock, timeout):
        for _ in range(2):
            sock = connect(where)
            if sock is not None:
                sock.close()
                return
            if not locks.is_held(where.lock_file):
                _spawn(where, timeout)
                return
            # A sidecar holds the lock but does not answer yet: starting up, or on its way out.
            _wait_for(where, timeout)


def _wait_for(paths: Paths, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        sock = connect(paths)
        if sock is not None:
            sock.close()
            return
        if not locks.is_held(paths.lock_file):
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise Unavailable(f"the sidecar holds {paths.lock_file} but does not answer")


def _spawn(paths: Paths, timeout: float) -> None:
    import subprocess

    paths.log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = clean_env()
    read_end, write_end = os.pipe()
    try:
        # No sidecar holds its lock, and starters take turns (start.lock): nobody writes
        # the log now, so this is the moment to rotate it.
        rotate(paths.log_file)
        log_fd = open_append(paths.log_file)
        try:
            launcher = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "berth.sidecar.daemon",
                    "--detach",
                    "--ready-fd",
                    str(write_end),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(write_end,),
                start_new_session=True,  # setsid: no terminal, no signals from the hook's group
                cwd="/",
                env=env,
            )
        finally:
            os.close(log_fd)
            os.close(write_end)
        launcher.wait(timeout)  # it forks the daemon and exits at once
        answer = _read_line(read_end, timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"cannot start the sidecar: {exc}") from None
    finally:
        os.close(read_end)
    if answer not in ("ready", "running"):
        detail = answer or "it exited without a word"
        raise Unavailable(f"the sidecar did not start ({detail}); see {paths.log_file}")


def _read_line(fd: int, timeout: float) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return "timed out"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()

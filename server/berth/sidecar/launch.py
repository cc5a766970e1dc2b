"""Starting the sidecar: ten clients at once still make one daemon.

Standard library only, as the client that uses it: git hooks import this.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from berth import locks
from berth.errors import ConflictError, OwnershipError
from berth.fsutil import open_append
from berth.gitenv import clean_env
from berth.sidecar import protocol
from berth.sidecar.protocol import Paths

START_TIMEOUT = 20.0
CONNECT_TIMEOUT = 2.0


class Unavailable(Exception):
    """The sidecar cannot be reached or started: do the work inline."""


def connect(paths: Paths | None = None, timeout: float = CONNECT_TIMEOUT) -> socket.socket | None:
    """A connection to the running sidecar, or None when none answers."""
    where = paths or protocol.paths()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with protocol.address(where.socket) as address:
            sock.connect(address)
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    return sock


def prepare_run_dir(paths: Paths) -> None:
    """The 0700 directory of the socket, owned by us; refuse anything else."""
    try:
        paths.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = paths.run_dir.lstat()
    except OSError as exc:
        raise Unavailable(f"cannot make {paths.run_dir}: {exc.strerror or exc}") from None
    if not paths.run_dir.is_dir() or paths.run_dir.is_symlink():
        raise Unavailable(f"{paths.run_dir} is not a directory")
    if info.st_uid != os.geteuid():
        raise Unavailable(f"{paths.run_dir} belongs to uid {info.st_uid}, not to us")
    if info.st_mode & 0o077:
        paths.run_dir.chmod(0o700)


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

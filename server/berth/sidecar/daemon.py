"""The sidecar's process: ``python -m berth.sidecar.daemon``, as clients start it.

One per user and berth home: it holds a flock on ``run/sidecar.lock`` for its
whole life, listens on ``sidecar.sock`` (0600, in a 0700 dir: the home's ``run/``
or ``$XDG_RUNTIME_DIR/berth/<key>``, see ``protocol.Paths``) and serves until
stopped, idle, or its socket is removed. ``--detach`` forks once more so
the daemon, in the session its client made, never gets a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from berth import locks, logs
from berth.errors import BerthError, ConflictError
from berth.fsutil import write_private
from berth.settings import load_settings
from berth.sidecar import protocol
from berth.sidecar.protocol import Paths
from berth.sidecar.service import Sidecar


def _acquire(lock_file: Path) -> int | None:
    """The lock that makes this the one sidecar (a bare descriptor: nothing closes it
    before the kernel does, at exit); None when another sidecar holds it."""
    for _ in range(40):
        fd = locks.try_lock(lock_file)
        if fd is not None:
            return fd
        # A client may hold it for a moment to look: ask a few times.
        time.sleep(0.025)
    return None


def _listen(paths: Paths) -> tuple[socket.socket, int]:
    # We hold the lock, so a socket, link or pid file left here belongs to a dead sidecar.
    for path in {paths.socket, paths.link, paths.home_run_dir / paths.pid_file.name}:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with protocol.address(paths.socket) as address:
        sock.bind(address)
    paths.socket.chmod(0o600)  # the 0700 directory already guards it until here
    sock.listen(64)
    sock.setblocking(False)
    protocol.make_link(paths)
    return sock, paths.socket.stat().st_ino


def serve(ready: Callable[[str], None]) -> int:
    """Serve in this process until stopped; ``ready`` hears "ready", "running" or an error."""
    from berth.pg import server as pg_server
    from berth.sidecar.launch import Unavailable, prepare_run_dir

    # No process-wide umask: the embedded server's directories need their own modes.
    paths = protocol.paths()
    try:
        settings = load_settings()
        logs.configure(settings.log_dir)
        prepare_run_dir(paths)
        lock = _acquire(paths.lock_file)
    except (BerthError, Unavailable, OSError) as exc:
        ready(f"error: {getattr(exc, 'message', exc)}")
        return 3
    if lock is None:
        ready("running")
        return 0
    inode = None
    try:
        listener, inode = _listen(paths)
        write_private(paths.pid_file, f"{os.getpid()}\n")
        pg_server.hold_sessions()  # a request's admin sessions are the last one's (pg/held.py)
        asyncio.run(Sidecar(paths, settings).run(listener, lambda: ready("ready")))
    except OSError as exc:
        ready(f"error: {exc}")
        return 1
    finally:
        pg_server.release_sessions()
        with contextlib.suppress(OSError):
            if inode is not None and paths.socket.stat().st_ino == inode:
                paths.socket.unlink()
        protocol.remove_link(paths)
        with contextlib.suppress(OSError):
            paths.pid_file.unlink()
        # The lock stays: the kernel drops it when this process is gone, so
        # whoever waits on it (berth sidecar stop) then finds no sidecar left.
    return 0


def _reporter(fd: int | None) -> Callable[[str], None]:
    def report(text: str) -> None:
        nonlocal fd
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(fd, text.encode() + b"\n")
            os.close(fd)
        fd = None

    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m berth.sidecar.daemon [--detach] [--ready-fd N]`` (what clients spawn)."""
    args = list(sys.argv[1:] if argv is None else argv)
    ready_fd = None
    if "--ready-fd" in args:
        ready_fd = int(args[args.index("--ready-fd") + 1])
    if "--detach" in args and os.fork() > 0:
        # The client's child exits here; the grandchild, in the session the
        # client made, can never get a controlling terminal.
        os._exit(0)
    return serve(_reporter(ready_fd))


def run_foreground() -> None:
    """``berth sidecar --foreground``: serve here (for a service manager), or say who does."""
    outcome: list[str] = []

    def ready(text: str) -> None:
        outcome.append(text)
        if text == "ready":
            sys.stderr.write(
                f"berth: sidecar {os.getpid()} listening on {protocol.paths().socket}\n"
            )

    code = serve(ready)
    if outcome and outcome[0] == "running":
        raise ConflictError("a sidecar is already running", hint="berth sidecar status shows it")
    if outcome and outcome[0].startswith("error"):
        raise BerthError(
            f"the sidecar cannot start: {outcome[0][7:]}", hint="see berth sidecar status"
        )
    if code:
        raise BerthError("the sidecar stopped with an error", hint=str(protocol.paths().log_file))


if __name__ == "__main__":
    sys.exit(main())

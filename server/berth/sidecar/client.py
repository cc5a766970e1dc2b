"""Talk to the sidecar, starting it when needed. Standard library only: git hooks import this.

Everything degrades to inline work: ``up`` returns None when the sidecar is off,
cannot start, or runs with other settings, and the caller provisions itself.
From a shell (the hook shim): ``python -m berth.sidecar.client up [--cwd DIR]``
exits 75 when the caller should do the work inline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from berth import __version__, locks
from berth.gitenv import clean_env
from berth.sidecar import protocol
from berth.sidecar.launch import Unavailable, connect, start
from berth.sidecar.protocol import Paths
from berth.sidecar.wire import INLINE_KINDS

__all__ = [  # with what it re-exports from berth.sidecar.launch
    "EX_TEMPFAIL",
    "INLINE_KINDS",
    "OnEvent",
    "RemoteError",
    "TimedOut",
    "Unavailable",
    "call",
    "client_env",
    "connect",
    "enabled",
    "main",
    "start",
    "status",
    "stop",
    "subscribe",
    "try_up",
]

EX_TEMPFAIL = 75  # sysexits: "try again later"; here: do it inline
OnEvent = Callable[[dict[str, Any]], None]


class TimedOut(Unavailable):
    """No answer within the caller's timeout. The sidecar goes on with the request."""


class RemoteError(Exception):
    """The sidecar ran the request and it failed (a BerthError on its side)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "the sidecar reported an error")))
        self.kind = str(error.get("error", "error"))
        self.message = str(error.get("message", ""))
        self.hint = error.get("hint") if isinstance(error.get("hint"), str) else None
        code = error.get("exit_code")
        self.exit_code = code if isinstance(code, int) else 1


class _Lost(Exception):
    """The connection closed before the final line: the sidecar died mid-request."""


# -- requests -----------------------------------------------------------------------


def _messages(handle: IO[bytes]) -> Iterator[dict[str, Any]]:
    while True:
        try:
            line = handle.readline(protocol.MAX_MESSAGE)
        except TimeoutError:
            raise TimedOut("the sidecar did not answer in time") from None
        except OSError as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE):
                raise _Lost from None
            raise
        if not line:
            return
        try:
            yield protocol.decode(line)
        except protocol.ProtocolError as exc:
            raise RemoteError({"error": exc.kind, "message": str(exc)}) from None


def _exchange(sock: socket.socket, message: dict[str, Any], on_event: OnEvent | None) -> Any:
    # A failed send is not the end: the sidecar may have answered before reading
    # (it refuses another user's connection at once); the answer is still there.
    with contextlib.suppress(OSError):
        sock.sendall(protocol.encode(message))
    with sock.makefile("rb") as handle:
        for reply in _messages(handle):
            if not protocol.is_final(reply):
                if on_event is not None:
                    on_event(reply)
                continue
            if reply.get("ok"):
                return reply.get("result")
            error = reply.get("error")
            raise RemoteError(error if isinstance(error, dict) else {})
    raise _Lost


def _settle(paths: Paths, timeout: float = 10.0) -> None:
    """After the sidecar died under us: wait until it is gone for good (its lock is free).

    A dying process closes its descriptors one by one: until its listening
    socket is closed, a new connection would land in a queue nobody reads.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while locks.is_held(paths.lock_file) and time.monotonic() < deadline:
        sock = connect(paths)
        if sock is not None:
            with sock:
                try:  # a live sidecar (another client restarted it) answers a ping
                    sock.settimeout(1.0)
                    _exchange(sock, protocol.request("ping"), None)
                    return
                except (_Lost, Unavailable, RemoteError):
                    pass
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def call(
    op: str,
    *,
    on_event: OnEvent | None = None,
    autostart: bool = False,
    retry: bool = False,
    timeout: float | None = None,
    paths: Paths | None = None,
    **fields: Any,
) -> Any:
    """Send one request and return its result; events go to ``on_event``.

    ``retry``: if the sidecar dies mid-request (kill -9, a crash), start it
    again and send the request once more. Only for ops that are idempotent.
    """
    where = paths or protocol.paths()
    attempts = 3 if retry else 1
    for attempt in range(attempts):
        sock = connect(where)
        if sock is None:
            if not autostart:
                raise Unavailable("the sidecar is not running")
            start(where)
            sock = connect(where)
            if sock is None:
                raise Unavailable("the sidecar started but does not answer")
        sock.settimeout(timeout)
        try:
            return _exchange(sock, protocol.request(op, **fields), on_event)
        except _Lost:
            if attempt + 1 == attempts:
                raise Unavailable("the sidecar went away in the middle of the request") from None
            _settle(where)
        finally:
            sock.close()
    raise Unavailable("unreachable")  # the loop returns or raises


def client_env() -> dict[str, str]:
    """This process's environment, for the user's commands the sidecar runs on our behalf."""
    return clean_env()


def enabled() -> bool:
    try:
        return protocol.mode() == "auto"
    except ValueError:
        return False


def try_up(
    cwd: Path | str,
    *,
    baseline: str | None = None,
    on_event: OnEvent | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """``berth up`` for the worktree at ``cwd`` through the sidecar, started if need be.

    Raises Unavailable (do it inline) or RemoteError (it failed: report it).
    """
    try:
        data = call(
            "up",
            cwd=str(Path(cwd).absolute()),
            baseline=baseline,
            berth=__version__,
            env=client_env(),
            settings=protocol.settings_env(),
            on_event=on_event,
            autostart=True,
            retry=True,
            timeout=timeout,
        )
    except RemoteError as exc:
        if exc.kind in INLINE_KINDS:
            raise Unavailable(exc.message) from None
        raise
    if not isinstance(data, dict):
        raise Unavailable("the sidecar answered without a berth")
    return data


def subscribe(
    *,
    cwd: Path | str | None = None,
    scope: str | None = None,
    instance: str | None = None,
    autostart: bool = True,
    timeout: float | None = None,
    paths: Paths | None = None,
) -> Iterator[dict[str, Any]]:
    """Events as they happen; the first is ``subscribed``. Ends when the sidecar stops.

    ``timeout`` bounds each wait for the next event (socket.timeout -> Unavailable).
    """
    where = paths or protocol.paths()
    sock = connect(where)
    if sock is None and autostart:
        start(where)
        sock = connect(where)
    if sock is None:
        raise Unavailable("the sidecar is not running")
    fields: dict[str, Any] = {"scope": scope, "instance": instance}
    if cwd is not None:
        fields["cwd"] = str(Path(cwd).absolute())
    sock.settimeout(timeout)
    try:
        sock.sendall(protocol.encode(protocol.request("subscribe", **fields)))
        with sock.makefile("rb") as handle:
            for message in _messages(handle):
                if protocol.is_final(message):
                    error = message.get("error")
                    if not message.get("ok"):
                        raise RemoteError(error if isinstance(error, dict) else {})
                    return
                yield message
    except _Lost:
        return
    finally:
        sock.close()


def status(paths: Paths | None = None) -> dict[str, Any] | None:
    """The running sidecar's status, or None when none runs."""
    try:
        data = call("status", paths=paths, timeout=10.0)
    except Unavailable:
        return None
    return data if isinstance(data, dict) else None


def stop(paths: Paths | None = None, timeout: float = 30.0) -> int | None:
    """Stop the sidecar and wait until it is gone; its pid, or None when none ran."""
    where = paths or protocol.paths()
    pid: int | None = None
    try:
        answer = call("stop", paths=where, timeout=timeout)
        pid = answer.get("pid") if isinstance(answer, dict) else None
    except Unavailable:
        if not locks.is_held(where.lock_file):
            return None
        pid = _pid_from_file(where)  # alive (it holds the lock) but deaf: signal it
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while locks.is_held(where.lock_file):
        if time.monotonic() > deadline:
            raise Unavailable(f"the sidecar (pid {pid}) did not stop within {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    return pid


def _pid_from_file(paths: Paths) -> int | None:
    # A sidecar started without XDG_RUNTIME_DIR writes it in the home's run/.
    for path in (paths.pid_file, paths.home_run_dir / paths.pid_file.name):
        try:
            return int(path.read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return None


# -- python -m berth.sidecar.client ----------------------------------------------------

USAGE = """usage: python -m berth.sidecar.client up [--cwd DIR] [--baseline NAME] [--json] [--quiet]
       python -m berth.sidecar.client ping [--start]
exit 75: the sidecar is off or unavailable; run `berth up` (inline) instead"""


def _option(args: list[str], name: str) -> str | None:
    if name not in args:
        return None
    index = args.index(name)
    if index + 1 >= len(args):
        raise SystemExit(USAGE)
    value = args[index + 1]
    del args[index : index + 2]
    return value


def _flag(args: list[str], name: str) -> bool:
    if name in args:
        args.remove(name)
        return True
    return False


def main(argv: list[str] | None = None) -> int:
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("up", "ping"):
        sys.stderr.write(USAGE + "\n")
        return 2
    command = args.pop(0)
    cwd = _option(args, "--cwd") or str(Path.cwd())
    baseline = _option(args, "--baseline")
    as_json, quiet, autostart = (
        _flag(args, "--json"),
        _flag(args, "--quiet"),
        _flag(args, "--start"),
    )
    if args:
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        if command == "ping":
            data = call("ping", autostart=autostart, timeout=30.0)
        elif not enabled():
            return EX_TEMPFAIL
        else:

            def note(event: dict[str, Any]) -> None:
                if event.get("event") == "progress" and event.get("message") and not quiet:
                    sys.stderr.write(f"berth: {event['message']}\n")

            data = try_up(cwd, baseline=baseline, on_event=note)
    except Unavailable as exc:
        if not quiet:
            sys.stderr.write(f"berth: sidecar unavailable: {exc}\n")
        return EX_TEMPFAIL
    except RemoteError as exc:
        sys.stderr.write(f"berth: error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    if as_json or command == "ping":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif not quiet and isinstance(data, dict):
        sys.stdout.write(
            f"berth {data.get('instance')} ({data.get('state')}) for {data.get('worktree')}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

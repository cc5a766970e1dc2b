"""The sidecar's wire protocol (versioned JSON lines) and where its files live.

Standard library only: git hooks import this and must start in milliseconds.

A client sends one request line, ``{"v": 1, "op": "up", ...}``. The sidecar
answers with event lines, ``{"v": 1, "event": "progress", ...}``, and (except
for ``subscribe``, which only streams) one final line: ``{"v": 1, "ok": true,
"result": {...}}`` or ``{"v": 1, "ok": false, "error": {kind, message, hint,
exit_code}}``. docs/sidecar.md describes every op and event.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from berth import homes, settings
from berth.errors import ConfigError
from berth.sidecar.wire import VERSION, encode, request, settings_env

__all__ = [  # with what it re-exports from berth.sidecar.wire
    "MAX_MESSAGE",
    "MAX_REQUEST",
    "OPS",
    "SCOPES",
    "VERSION",
    "Paths",
    "ProtocolError",
    "address",
    "berth_home",
    "check_peer",
    "decode",
    "encode",
    "event",
    "failure",
    "home_key",
    "is_final",
    "make_link",
    "mode",
    "parse_request",
    "paths",
    "peer_uid",
    "remove_link",
    "request",
    "result",
    "runtime_dir",
    "settings_env",
    "too_large",
    "too_long",
]

MAX_REQUEST = 256 * 1024  # a request carries the client's environment; nothing needs more
MAX_MESSAGE = 16 * 1024 * 1024  # what a client accepts in one line from the sidecar
OPS = ("ping", "status", "up", "subscribe", "stop")
SCOPES = ("worktree", "repo", "all")
_SUN_PATH_MAX = 100  # sockaddr_un holds 104-108 bytes depending on the system


class ProtocolError(Exception):
    """A malformed message. ``kind`` goes back to the client as the error kind."""

    def __init__(self, message: str, kind: str = "protocol") -> None:
        super().__init__(message)
        self.kind = kind


class Paths:
    """The sidecar's files for one berth home (a plain class: dataclasses cost a hook 7 ms).

    The socket and pid file live in ``run_dir``: ``$XDG_RUNTIME_DIR/berth/<key>``
    where the platform gives a safe one (:func:`runtime_dir`), else the home's
    ``run/``. The locks always stay in the home's ``run/``, so clients that see
    different ``XDG_RUNTIME_DIR``s still make one sidecar per home; a link there
    (``link``) leads those without the variable to a socket kept elsewhere.
    """

    __slots__ = ("home", "run_dir")

    def __init__(self, home: Path, run_dir: Path | None = None) -> None:
        self.home = home
        self.run_dir = run_dir or home / "run"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Paths) and other.home == self.home and other.run_dir == self.run_dir
        )

    def __hash__(self) -> int:
        return hash((self.home, self.run_dir))

    def __repr__(self) -> str:
        return f"Paths({self.home!r}, {self.run_dir!r})"

    @property
    def home_run_dir(self) -> Path:
        """The home's own ``run/``: the locks, and the link to a socket kept elsewhere."""
        return self.home / "run"

    @property
    def socket(self) -> Path:
        return self.run_dir / "sidecar.sock"

    @property
    def link(self) -> Path:
        """Where a client without ``XDG_RUNTIME_DIR`` looks: the socket, or a link to it."""
        return self.home_run_dir / "sidecar.sock"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "sidecar.pid"

    @property
    def lock_file(self) -> Path:
        """Locked by the running sidecar for its whole life: the one-daemon guarantee."""
        return self.home_run_dir / "sidecar.lock"

    @property
    def start_lock(self) -> Path:
        """Locked by a client while it starts the sidecar, so starters queue up."""
        return self.home_run_dir / "start.lock"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "sidecar.log"


def berth_home(environ: Mapping[str, str] | None = None) -> Path:
    """The same directory as ``berth.settings.load_settings().home``."""
    return homes.locate(environ)[0]


def home_key(home: Path) -> str:
    """A short name for a berth home, the same for every path that leads to it."""
    return hashlib.sha256(os.fsencode(home.resolve())).hexdigest()[:12]


def runtime_dir(home: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_RUNTIME_DIR/berth/<key of home>`` when that variable names a safe
    directory: absolute, a directory itself (not a link), ours, 0700. Else None."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_RUNTIME_DIR", "")
    if not Path(base).is_absolute():
        return None
    try:
        info = os.lstat(base)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return None
    return Path(base) / "berth" / home_key(home)


def paths(environ: Mapping[str, str] | None = None) -> Paths:
    home = berth_home(environ)
    return Paths(home, runtime_dir(home, environ))


def too_long(path: Path) -> str | None:
    """Why a unix socket cannot be bound or reached at ``path``, or None when it can."""
    size = len(os.fsencode(str(path)))
    if size <= _SUN_PATH_MAX or Path("/proc/self/fd").is_dir():
        return None  # short enough, or reached through a directory fd (see address)
    return (
        f"the sidecar's socket path {path} is {size} bytes, over the {_SUN_PATH_MAX} "
        "that unix sockets take here"
    )


def mode(environ: Mapping[str, str] | None = None) -> str:
    """``auto`` (start the sidecar on demand) or ``off`` (always inline); ValueError if bad."""
    try:
        return settings.load_settings(environ).sidecar
    except ConfigError as exc:
        raise ValueError(exc.message) from None


# -- messages --------------------------------------------------------------------


def decode(line: bytes) -> dict[str, Any]:
    """One message of the current version; ProtocolError when it is not."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    version = message.get("v")
    if version != VERSION:
        raise ProtocolError(
            f"protocol version {version!r} is not supported (this side speaks {VERSION})",
            kind="version",
        )
    return message


def parse_request(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_REQUEST:
        raise ProtocolError(too_large(), kind="too-large")
    message = decode(line)
    op = message.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r}; known: {', '.join(OPS)}", kind="unknown-op")
    return message


def too_large() -> str:
    return f"request too large: the limit is {MAX_REQUEST} bytes per line"


def result(data: Any) -> dict[str, Any]:
    return {"v": VERSION, "ok": True, "result": data}


def failure(kind: str, message: str, hint: str | None = None, exit_code: int = 1) -> dict[str, Any]:
    error = {"error": kind, "message": message, "hint": hint, "exit_code": exit_code}
    return {"v": VERSION, "ok": False, "error": error}


def event(name: str, **fields: Any) -> dict[str, Any]:
    return {"v": VERSION, "event": name, "time": round(time.time(), 3), **fields}


def is_final(message: Mapping[str, Any]) -> bool:
    return "ok" in message


# -- the socket ------------------------------------------------------------------


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """A name to bind or connect ``path`` by, even when it is too long for sockaddr_un."""
    text = str(path)
    if len(os.fsencode(text)) <= _SUN_PATH_MAX or not Path("/proc/self/fd").is_dir():
        yield text
        return
    # Deep temporary dirs (pytest's) overflow sun_path: go through a directory fd.
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def make_link(paths: Paths) -> None:
    """Lead clients without ``XDG_RUNTIME_DIR`` (cron, ssh, a GUI) to a socket kept there."""
    if paths.link != paths.socket and too_long(paths.link) is None:
        with contextlib.suppress(OSError):
            paths.link.symlink_to(paths.socket)


def remove_link(paths: Paths) -> None:
    """Remove that link, if it still leads to our socket."""
    if paths.link == paths.socket:
        return
    with contextlib.suppress(OSError):
        if paths.link.readlink() == paths.socket:
            paths.link.unlink()


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a unix socket (None where unknown)."""
    so_peercred = getattr(socket, "SO_PEERCRED", None)
    if so_peercred is not None:
        data = sock.getsockopt(socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", data)
        return int(uid)
    local_peercred = getattr(socket, "LOCAL_PEERCRED", 0x001 if sys.platform == "darwin" else None)
    if local_peercred is not None:
        data = sock.getsockopt(0, local_peercred, 256)  # struct xucred: version, uid, ...
        _version, uid = struct.unpack_from("=II", data)
        return int(uid)
    return None


def check_peer(sock: socket.socket, expected: int | None = None) -> str | None:
    """Why the peer must be refused, or None. Only the user who runs the sidecar may talk to it."""
    want = os.geteuid() if expected is None else expected
    try:
        uid = peer_uid(sock)
    except OSError as exc:
        return f"cannot read the peer's credentials: {exc}"
    if uid is None:
        return None  # the 0700 directory and 0600 socket are the guard on such systems
    if uid != want:
        return f"uid {uid} may not use the berth sidecar of uid {want}"
    return None

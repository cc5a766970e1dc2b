"""The hook's fast path for ``git worktree add``: ask the warm sidecar for the berth.

The shim runs this file as ``python -I -S berth/hookfast.py`` in the new
worktree: no site packages, and of berth only the leaf modules it names below,
so it starts in a few milliseconds instead of the ~150 ms that ``python -m
berth hooks run`` takes to import berth's command line. It speaks the
sidecar's protocol (``berth.sidecar.wire``) over its socket, prints what the
slow path prints, and exits 75 (``EX_TEMPFAIL``) whenever anything is not as
expected — no sidecar, another version or settings, an error — so that the
shim runs the slow path, which does it all again properly.
"""

from __future__ import annotations

import _socket
import os
import sys

if __package__ in (None, ""):  # run as a file: find the berth package beside it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from berth import __version__
from berth.gitenv import GIT_ENV
from berth.homes import paths
from berth.sidecar import wire

TYPE_CHECKING = False
if TYPE_CHECKING:  # not at run time: typing and collections cost the hook milliseconds
    from collections.abc import Iterator
    from typing import Any

# json, socket, pathlib and typing would double this process's start-up (their
# imports pull in re, enum and collections): it speaks JSON with the C
# accelerator json itself uses, and the socket through _socket.
try:
    import _json
except ImportError:  # not CPython: the json module, and the milliseconds it costs
    _json = None  # type: ignore[assignment]

EX_TEMPFAIL = 75
TIMEOUT = 30.0  # the hooks' default timeout; the slow path reads [hooks] timeout
_SUN_PATH_MAX = 100


class Fallback(Exception):
    """Leave it to the slow path."""


class _Decoding:
    """What json's C scanner asks of its decoder: the defaults of ``json.loads``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.lower().replace("infinity", "inf"))


def dumps(value: object) -> str:
    """``value`` (str, int, bool, None, dicts and lists of them) as JSON."""
    if _json is None:
        import json

        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, dict):
        items = (f"{_json.encode_basestring_ascii(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"not JSON: {type(value).__name__}")


def loads(text: str) -> Any:
    """One JSON value (surrounding whitespace allowed), as ``json.loads`` reads it."""
    if _json is None:
        import json

        return json.loads(text)
    body = text.strip(" \t\r\n")
    try:
        value, end = _json.make_scanner(_Decoding())(body, 0)  # type: ignore[arg-type]
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(body):
        raise ValueError("extra data after the JSON value")
    return value


def _connect(home: str) -> _socket.socket:
    path = os.path.join(home, "run", "sidecar.sock")  # the socket, or a link to it
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise Fallback
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise Fallback from None
    return sock


def _lines(sock: _socket.socket) -> Iterator[bytes]:
    """The lines ``sock`` sends until it closes, without their newlines."""
    pending = b""
    while chunk := sock.recv(65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def _sidecar_on(config: str) -> bool:
    """False when the sidecar is turned off (``BERTH_SIDECAR=off``), or when the settings
    file names it at all: the slow path reads the settings properly."""
    if os.environ.get("BERTH_SIDECAR", "").strip().lower() == "off":
        return False
    try:
        with open(config, "rb") as file:
            text = file.read()
    except OSError:
        return True
    return not any(line.strip().startswith(b"sidecar") for line in text.splitlines())


def ready_text(ident: str | None, database: str, ports: dict[str, int], env_file: str) -> str:
    """The line a hook prints for a ready berth, on either path (``hookrun.summary``)."""
    listed = ", ".join(f"{name}={port}" for name, port in ports.items())
    return (
        f"berth: berth {ident} ready: database {database}, "
        f"ports {listed}, env in {os.path.basename(env_file)}"
    )


def ready_line(data: dict[str, Any]) -> str:
    """:func:`ready_text` of a berth's status as the sidecar answers it."""
    env_file = str(data.get("env_file") or ".env.berth")
    return ready_text(
        data.get("instance"), data["database"]["name"], data.get("ports") or {}, env_file
    )


def up(cwd: str) -> dict[str, Any]:
    """The sidecar's ``up`` for the worktree at ``cwd``, as a hook asks it."""
    env = {k: v for k, v in os.environ.items() if k not in GIT_ENV}
    message = wire.request(
        "up",
        cwd=cwd,
        baseline=None,
        berth=__version__,
        env=env,
        settings=wire.settings_env(),
        hook=True,
    )
    home, config = paths()
    if not _sidecar_on(config):
        raise Fallback
    sock = _connect(home)
    try:
        sock.sendall(dumps(message).encode() + b"\n")
        for line in _lines(sock):
            reply = loads(line.decode())
            if not isinstance(reply, dict) or reply.get("v") != wire.VERSION:
                raise Fallback
            if "ok" not in reply:
                if reply.get("event") == "notice" and reply.get("message"):
                    sys.stderr.write(f"berth: {reply['message']}\n")
                continue
            result = reply.get("result")
            if not reply["ok"] or not isinstance(result, dict):
                raise Fallback  # the slow path reports it, with [hooks] strict
            return result
    finally:
        sock.close()
    raise Fallback  # the sidecar went away: the slow path starts another


def main() -> int:
    try:
        data = up(os.getcwd())
    except TimeoutError:
        sys.stderr.write(
            "berth: still provisioning in the sidecar; berth wait blocks until it is ready\n"
        )
        return 0
    except (Fallback, OSError, ValueError):
        return EX_TEMPFAIL
    if isinstance(data.get("database"), dict):  # a berth (not the main checkout's own setup)
        sys.stderr.write(ready_line(data) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: find the berth package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from berth import __version__
from berth.gitenv import GIT_ENV
from berth.homes import locate
from berth.sidecar import wire

EX_TEMPFAIL = 75
TIMEOUT = 30.0  # the hooks' default timeout; the slow path reads [hooks] timeout
_SUN_PATH_MAX = 100


class Fallback(Exception):
    """Leave it to the slow path."""


def _connect(home: Path) -> socket.socket:
    path = home / "run" / "sidecar.sock"  # the socket, or a link to it in the runtime dir
    if len(os.fsencode(str(path))) > _SUN_PATH_MAX:
        raise Fallback
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise Fallback from None
    return sock


def _sidecar_on(config: Path) -> bool:
    """False when the sidecar is turned off (``BERTH_SIDECAR=off``), or when the settings
    file names it at all: the slow path reads the settings properly."""
    if os.environ.get("BERTH_SIDECAR", "").strip().lower() == "off":
        return False
    try:
        text = config.read_bytes()
    except OSError:
        return True
    return not any(line.strip().startswith(b"sidecar") for line in text.splitlines())


def ready_text(ident: str | None, database: str, ports: dict[str, int], env_file: str) -> str:
    """The line a hook prints for a ready berth, on either path (``hookrun.summary``)."""
    listed = ", ".join(f"{name}={port}" for name, port in ports.items())
    return (
        f"berth: berth {ident} ready: database {database}, "
        f"ports {listed}, env in {Path(env_file).name}"
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
    home, config = locate()
    if not _sidecar_on(config):
        raise Fallback
    with _connect(home) as sock:
        sock.sendall(wire.encode(message))
        with sock.makefile("rb") as replies:
            for line in replies:
                reply = json.loads(line)
                if reply.get("v") != wire.VERSION:
                    raise Fallback
                if "ok" not in reply:
                    if reply.get("event") == "notice" and reply.get("message"):
                        sys.stderr.write(f"berth: {reply['message']}\n")
                    continue
                result = reply.get("result")
                if not reply["ok"] or not isinstance(result, dict):
                    raise Fallback  # the slow path reports it, with [hooks] strict
                return result
    raise Fallback  # the sidecar went away: the slow path starts another


def main() -> int:
    try:
        data = up(str(Path.cwd()))
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

"""What the hook shims remember: the berth home and server ``berth hooks install`` ran with.

A git command run without ``BERTH_HOME`` (another terminal, a GUI, an agent's
sandbox) would otherwise provision into the default home. ``berth hooks
install`` bakes the variables that choose the home and the server into the
shims, as shell assignments; a shim sets each that is unset when git runs it,
and says when one that is set differs. Baked, they cost the shim's fast path
nothing (a ``git config`` read would cost it a process), they are written and
removed with the shims, and ``hooks status`` sees an old value as outdated.

A server URL with a password is not written into a shim (hooks are readable by
others, and with a relative ``core.hooksPath`` committed): the shim records only
that one was set, and refuses to provision without it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth import redact

_LINE = re.compile(r"^pinned_(home|data_dir|server|server_secret)=", re.MULTILINE)


@dataclass(frozen=True)
class Pins:
    """The values a shim sets when git runs it without them; "" where nothing is recorded."""

    home: str = ""  # BERTH_HOME, absolute
    data_dir: str = ""  # BERTH_DATA_DIR: the embedded server's directory
    server: str = ""  # BERTH_SERVER, when it carries no password
    server_secret: bool = False  # BERTH_SERVER was set with a password: the shim refuses without

    def placeholders(self) -> dict[str, str]:
        """The shim template's ``@NAME@`` values, quoted for ``sh``."""
        return {
            "BERTH_HOME": shlex.quote(self.home),
            "BERTH_DATA_DIR": shlex.quote(self.data_dir),
            "BERTH_SERVER": shlex.quote(self.server),
            "SERVER_SECRET": "1" if self.server_secret else "0",
        }

    def variables(self) -> dict[str, str]:
        """The recorded variables by name (the secret server as masked)."""
        found = {"BERTH_HOME": self.home, "BERTH_DATA_DIR": self.data_dir}
        found["BERTH_SERVER"] = redact.MASK if self.server_secret else self.server
        return {name: value for name, value in found.items() if value}

    def to_json(self) -> dict[str, Any]:
        return {
            "home": self.home or None,
            "data_dir": self.data_dir or None,
            "server": self.server or None,
            "server_secret": self.server_secret,
        }


def from_env(environ: Mapping[str, str] | None = None) -> Pins:
    """What ``berth hooks install`` records, from its environment (``os.environ``)."""
    env = os.environ if environ is None else environ
    home = env.get("BERTH_HOME", "")
    data_dir = env.get("BERTH_DATA_DIR", "")
    server = env.get("BERTH_SERVER", "")
    secret = bool(server) and redact.urls(server) != server
    if secret and _config_server(env) == server:
        server, secret = "", False  # the home's config names it: the shim needs nothing
    return Pins(
        # As berth reads them (settings.locate, Settings.server_dir), from any directory.
        home=str(Path(home).expanduser().absolute()) if home else "",
        data_dir=str(Path(data_dir).absolute()) if data_dir else "",
        server="" if secret else server,
        server_secret=secret,
    )


def _config_server(env: Mapping[str, str]) -> str | None:
    from berth.errors import BerthError
    from berth.settings import load_settings

    try:
        return load_settings({k: v for k, v in env.items() if k != "BERTH_SERVER"}).server
    except BerthError:
        return None


def recorded(text: str) -> Pins | None:
    """The values a shim's text records; None for a shim of an older berth (none)."""
    values = {match[1]: _word(text, match.end()) for match in _LINE.finditer(text)}
    if not values:
        return None
    return Pins(
        home=values.get("home", ""),
        data_dir=values.get("data_dir", ""),
        server=values.get("server", ""),
        server_secret=values.get("server_secret") == "1",
    )


def _word(text: str, start: int) -> str:
    """The shell word at ``start``: a quoted value may span lines (a newline in a path)."""
    lexer = shlex.shlex(text[start:], posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return lexer.get_token() or ""
    except ValueError:
        return ""


def differences(pins: Pins, environ: Mapping[str, str] | None = None) -> list[str]:
    """The recorded variables this environment sets to something else (the shim warns)."""
    env = os.environ if environ is None else environ
    found = []
    for name, value in pins.variables().items():
        current = env.get(name, "")
        if name == "BERTH_SERVER" and pins.server_secret:
            continue  # nothing to compare with
        if current and _trim(current) != _trim(value):
            found.append(name)
    return found


def _trim(path: str) -> str:
    """One trailing slash off, as the shim's ``${value%/}``."""
    return path[:-1] if path.endswith("/") else path


def serves(pins: Pins | None, home: Path) -> bool:
    """Whether shims with ``pins`` provision into the berth home ``home``."""
    if pins is None or not pins.home:
        return True  # they follow whoever runs git, as before berth recorded homes
    return Path(pins.home).resolve() == home.resolve()

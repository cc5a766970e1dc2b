"""Where berth's home and config file are, read from the environment alone.

A leaf module (``os`` and ``sys`` only at run time): the hook's fast path and
the sidecar's client find the home with it and must start in milliseconds.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pathlib and collections cost the hook's fast path milliseconds
    from collections.abc import Mapping
    from pathlib import Path


def _user_dir(environ: Mapping[str, str], xdg: str, fallback: str) -> str:
    # What platformdirs answers, without its import.
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~/Library/Application Support"), "berth")
    value = environ.get(xdg, "").strip()
    return os.path.join(value or os.path.expanduser(fallback), "berth")


def paths(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """:func:`locate` as strings, without importing pathlib."""
    env = os.environ if environ is None else environ
    if env.get("BERTH_HOME"):
        home = os.path.expanduser(env["BERTH_HOME"])
        if not os.path.isabs(home):
            home = os.path.join(os.getcwd(), home)
        return home, os.path.join(home, "config.toml")
    home = _user_dir(env, "XDG_DATA_HOME", "~/.local/share")
    return home, os.path.join(_user_dir(env, "XDG_CONFIG_HOME", "~/.config"), "config.toml")


def locate(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """``(berth home, config file)``: ``$BERTH_HOME`` holds both when set."""
    from pathlib import Path

    home, config = paths(environ)
    return Path(home), Path(config)

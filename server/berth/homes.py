"""Where berth's home and config file are, read from the environment alone.

A leaf module (the standard library only): the hook's fast path and the
sidecar's client find the home with it and must start in milliseconds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def _user_dir(environ: Mapping[str, str], xdg: str, fallback: str) -> Path:
    # What platformdirs answers, without its import.
    if sys.platform == "darwin":
        return Path("~/Library/Application Support").expanduser() / "berth"
    value = environ.get(xdg, "").strip()
    return (Path(value) if value else Path(fallback).expanduser()) / "berth"


def locate(environ: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """``(berth home, config file)``: ``$BERTH_HOME`` holds both when set."""
    env = os.environ if environ is None else environ
    if env.get("BERTH_HOME"):
        home = Path(env["BERTH_HOME"]).expanduser().absolute()
        return home, home / "config.toml"
    home = _user_dir(env, "XDG_DATA_HOME", "~/.local/share")
    return home, _user_dir(env, "XDG_CONFIG_HOME", "~/.config") / "config.toml"

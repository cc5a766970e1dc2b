"""Driving a real, headless Neovim over its RPC channel (pynvim).

Every wait is ``vim.wait`` inside Neovim on a condition (a status arriving, a
buffer opening), with a deadline, so the tests react to events, not to time.
"""

from __future__ import annotations

import json
from typing import Any

import pynvim

from .conftest import DEADLINE

WAIT_MS = int(DEADLINE * 1000)


def wait(nvim: pynvim.Nvim, condition: str) -> None:
    """Let Neovim run until the Lua expression ``condition`` holds, or fail at the deadline."""
    met = nvim.exec_lua(f"return vim.wait({WAIT_MS}, function() return {condition} end, 20)")
    assert met, f"still not true after {DEADLINE:.0f}s: {condition}"


def lua(nvim: pynvim.Nvim, code: str) -> Any:
    return nvim.exec_lua(code)


def said(text: str) -> str:
    """A Lua condition: Neovim's messages hold ``text``."""
    return f"vim.fn.execute('messages'):find({json.dumps(text)}, 1, true) ~= nil"

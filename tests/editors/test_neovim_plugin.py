"""The Neovim plugin as plugin managers install it: plugin/berth.lua, doc/berth.txt.

A copy of editors/neovim (so :helptags writes its tags there, not into the
repository) in Debian's 0.7 and a current Neovim, loaded as a plugin manager
loads it: on 'runtimepath' before the plugins are sourced (packer, vim-plug,
a pack/*/start directory), or appended in a lazy.nvim `config` function.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pynvim
import pytest

from .conftest import NEOVIM_PLUGIN, NEOVIMS, close, embed
from .nvimtest import lua

COMMANDS = [
    "BerthBerths",
    "BerthCopyUrl",
    "BerthDadbod",
    "BerthDiff",
    "BerthFork",
    "BerthMigrate",
    "BerthNewMigration",
    "BerthPreview",
    "BerthProvision",
    "BerthPsql",
    "BerthReset",
    "BerthRestore",
    "BerthSnapshot",
    "BerthStartServer",
    "BerthStatus",
    "BerthStopServer",
]


@pytest.fixture(params=sorted(NEOVIMS))
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A copy of editors/neovim, as a plugin manager's checkout holds it."""
    copy = tmp_path / "berth-neovim"
    shutil.copytree(NEOVIM_PLUGIN, copy, ignore=shutil.ignore_patterns("tags"))
    return copy


@pytest.fixture
def started(version: str, plugin: Path) -> Iterator[pynvim.Nvim]:
    """Neovim with the plugin on 'runtimepath' and its plugins loaded (-u NORC: no init file)."""
    editor = embed(version, "-u", "NORC", "--cmd", f"set rtp^={plugin}")
    try:
        yield editor
    finally:
        close(editor)


def exists(nvim: pynvim.Nvim, command: str) -> bool:
    return bool(nvim.funcs.exists(f":{command}") == 2)


def test_the_plugin_defines_the_commands_and_starts_nothing(started: pynvim.Nvim) -> None:
    nvim = started
    assert all(exists(nvim, command) for command in COMMANDS)
    # Only the commands' table is loaded: no client, no berth module, no autocmd.
    assert lua(nvim, 'return package.loaded["berth"] == nil')
    assert nvim.funcs.exists("#berth") == 0  # setup()'s augroup
    assert lua(nvim, 'return require("berth.commands").names()') == COMMANDS
    clients = "(vim.lsp.get_clients or vim.lsp.get_active_clients)()"
    assert lua(nvim, f"return #{clients}") == 0
    # Sourcing it again (a second rtp entry, :runtime!) changes nothing.
    nvim.command("runtime! plugin/berth.lua")
    assert lua(nvim, 'return package.loaded["berth"] == nil')
    # Before setup() a command says what to do rather than failing obscurely.
    with pytest.raises(pynvim.NvimError, match=r"call require\('berth'\)\.setup\(\) first"):
        nvim.command("BerthMigrate")
    assert lua(nvim, f"return #{clients}") == 0


def test_help_tags_and_help(started: pynvim.Nvim, plugin: Path) -> None:
    nvim = started
    nvim.command(f"helptags {plugin / 'doc'}")
    tags = (plugin / "doc" / "tags").read_text()
    for tag in (
        "berth",
        "berth-setup",
        "berth-dadbod",
        "berth.setup()",
        *(f":{c}" for c in COMMANDS),
    ):
        assert f"{tag}\tberth.txt\t" in tags, tag
    nvim.command("help berth")
    assert Path(nvim.current.buffer.name).name == "berth.txt"
    assert "*berth*" in nvim.current.line
    nvim.command("help :BerthNewMigration")
    assert "*:BerthNewMigration*" in nvim.current.line
    # :checkhealth berth finds the help.
    nvim.command("checkhealth berth")
    assert f"help tags for {plugin / 'doc' / 'berth.txt'}" in "\n".join(nvim.current.buffer[:])


def test_lazy_nvim_config_appends_the_runtimepath(version: str, plugin: Path) -> None:
    # lazy.nvim puts the repository's root on 'runtimepath' and sources its
    # plugin/ only: the README's `config` function appends editors/neovim and
    # calls setup(), which defines the commands itself.
    nvim = embed(version, "-u", "NORC")
    try:
        assert not exists(nvim, "BerthStatus")
        lua(nvim, f'vim.opt.rtp:append("{plugin}") require("berth").setup()')
        assert all(exists(nvim, command) for command in COMMANDS)
        assert lua(nvim, 'return require("berth").configured') is True
    finally:
        close(nvim)


# A `berth.berths` result with what the end-to-end test cannot make: two
# berths, one with a running app and health, one whose worktree is gone; the
# server down.
LISTING = {
    "project": "shop",
    "server": "down",
    "berths": [
        {
            "instance": "5e6f7a8b",
            "state": "active",
            "slot": 2,
            "ports": {"app": 8022},
            "branch": "fix/login",
            "worktree": "/w/shop-login",
            "worktree_exists": False,
            "app": {"running": False, "processes": [], "health": None},
        },
        {
            "instance": "1a2b3c4d",
            "state": "active",
            "slot": 1,
            "ports": {"vite": 5174, "app": 8012},
            "branch": "feature/cart",
            "worktree": "/w/shop-cart",
            "worktree_exists": True,
            "app": {
                "running": True,
                "processes": [{"pid": 4242, "command": "npm run dev"}],
                "health": {"state": "ok", "status": 200},
            },
        },
    ],
    "trash": [
        {"name": "t_old", "instance": "1a2b3c4d", "original": "db", "trashed_at": 100},
        {"name": "t_new", "instance": "99", "original": "gone_db", "trashed_at": 200},
    ],
    "baselines": [],
    "templates": [],
}


# The listing's lines, and its actions as { lnum, action } pairs (RPC has no sparse lists).
RENDER = """
local view = require("berth.berths").render(..., "/w/shop-cart/")
local actions = {}
for lnum, action in pairs(view.actions) do table.insert(actions, { lnum, action }) end
return { lines = view.lines, actions = actions }
"""


def test_the_berths_listing_reads_every_field(started: pynvim.Nvim) -> None:
    view = started.exec_lua(RENDER, LISTING)
    lines = view["lines"]
    assert lines[0] == "berth: shop (server down)"
    at = lines.index("Berths (2)")
    assert lines[at + 1 : at + 8] == [
        "    fix/login  5e6f7a8b, slot 2, worktree gone",
        "      app      http://127.0.0.1:8022",
        "  * feature/cart  1a2b3c4d, slot 1, this worktree, running, health ok",
        "      vite     http://127.0.0.1:5174",
        "      app      http://127.0.0.1:8012",
        "      pid 4242  npm run dev",
        "",
    ]
    # Newest first; a berth the listing lacks is named by its database.
    trash = lines.index("Trash (2)")
    assert lines[trash + 1].startswith("    t_new  gone_db, trashed, ")
    assert lines[trash + 2].startswith("    t_old  feature/cart, trashed, ")
    assert "Baselines — server down" in lines and "Templates — server down" in lines
    # What <CR> does, by line number (Lua's, from 1): ports and trash entries only.
    actions = dict(view["actions"])
    assert actions[at + 3] == {"kind": "port", "url": "http://127.0.0.1:8022"}
    assert actions[trash + 2] == {"kind": "trash", "name": "t_new", "original": "gone_db"}
    assert len(actions) == 5

"""The Neovim plugin in real, headless Neovims: Debian's 0.7 and a current release.

pytest drives Neovim over its RPC channel (nvimtest.py); the ``nvim`` fixture
(conftest.py) has the plugin on 'runtimepath' and a provisioned worktree as cwd.
"""

from __future__ import annotations

import json

import psycopg
import pynvim

from berthtest import berth, berth_json, tables, url_of

from .conftest import PENDING, Shop
from .nvimtest import lua, wait


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


# Records what the server says and asks on Neovim's own handlers (the ones a
# user's UI sees); a question is answered Cancel, as a person might.
RECORD = """
_G.berth_test = { messages = {}, asked = {}, done = false }
vim.lsp.handlers["window/showMessage"] = function(_, params)
  table.insert(_G.berth_test.messages, params.message)
  return vim.NIL
end
vim.lsp.handlers["window/showMessageRequest"] = function(_, params)
  table.insert(_G.berth_test.asked, params.message)
  return { title = "Cancel" }
end
"""

# workspace/executeCommand berth.reset as a code action or a lens sends it: no :BerthReset.
RESET_REQUEST = """
local client = require("berth").client(0)
local folder = vim.uri_from_fname(client.config.root_dir)
local params = { command = "berth.reset", arguments = { folder } }
local function done() _G.berth_test.done = true end
if vim.fn.has("nvim-0.11") == 1 then
  client:request("workspace/executeCommand", params, done)
else
  client.request("workspace/executeCommand", params, done)
end
"""

STOP = """
local client = require("berth").client(0)
if vim.fn.has("nvim-0.11") == 1 then client:stop() else client.stop() end
"""


def said(text: str) -> str:
    """A Lua condition: the server said something containing ``text``."""
    return (
        "(function() for _, m in ipairs(_G.berth_test.messages) do"
        f" if m:find({json.dumps(text)}, 1, true) then return true end end"
        " return false end)()"
    )


def test_refused_reset_leaves_no_answer_behind(nvim: pynvim.Nvim, shop: Shop) -> None:
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    statusline = 'require("berth").statusline()'
    state = "(require('berth').status(0) or {}).state"
    wait(nvim, f"{state} == 'ready'")
    lua(nvim, RECORD)

    # A berth in the trash: :BerthReset! is refused without a question.
    berth(shop.root, "down")
    wait(nvim, f"{state} ~= 'ready'")
    nvim.command("BerthReset!")
    wait(nvim, said("is in the trash"))
    assert lua(nvim, "return _G.berth_test.asked") == []

    # Back from the trash, with data of its own that a reset would throw away.
    berth(shop.root, "restore", shop.instance)
    with psycopg.connect(url_of(shop.root)) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    wait(nvim, f"{state} == 'ready'")

    # A reset that did not come from :BerthReset is asked through Neovim's own
    # handler (the refused command left no answer behind); Cancel keeps the data.
    lua(nvim, RESET_REQUEST)
    wait(nvim, "_G.berth_test.done")
    asked = lua(nvim, "return _G.berth_test.asked")
    assert len(asked) == 1
    assert asked[0].startswith(f"Reset {shop.database}?")
    wait(nvim, said("reset cancelled"))
    status = berth_json(shop.root, "status")
    assert status["instance"] == shop.instance
    assert status["database"]["name"] == shop.database
    assert status["trash"] == []
    assert "kept" in tables(url_of(shop.root))

    # The server goes away: so does its berth from the statusline.
    wait(nvim, f"{statusline} ~= ''")
    lua(nvim, STOP)
    wait(nvim, f"{statusline} == ''")
    assert lua(nvim, "return require('berth').status(0) == nil")


def test_error_statusline_is_short(nvim: pynvim.Nvim, shop: Shop) -> None:
    config = shop.root / "berth.toml"
    config.write_text('project = "shop"\n[database]\nmigrations = 5\n')
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    statusline = 'require("berth").statusline()'
    wait(nvim, f"{statusline} ~= ''")

    # The reason is cut to 40 characters, as in VS Code's status bar item...
    line = lua(nvim, f"return {statusline}")
    assert line.startswith("✗ berth: "), line
    assert line.endswith("…"), line
    assert len(line) == len("✗ berth: ") + 40, line
    # ...and :BerthStatus says all of it.
    nvim.command("BerthStatus")
    wait(nvim, f"vim.fn.execute('messages'):find({json.dumps(str(config))}, 1, true) ~= nil")
    messages = lua(nvim, 'return vim.fn.execute("messages")')
    assert "database.migrations must be a list of paths" in messages


LENSES = """
local bufnr = vim.api.nvim_get_current_buf()
return vim.tbl_map(function(l) return l.command and l.command.title or "" end,
                   vim.lsp.codelens.get(bufnr))
"""


def lens_is(prefix: str) -> str:
    """A Lua condition: the current buffer's only lens starts with ``prefix``."""
    return (
        "(function() local b = vim.api.nvim_get_current_buf()"
        " local l = vim.lsp.codelens.get(b)"
        " return #l == 1 and l[1].command ~= nil"
        f" and vim.startswith(l[1].command.title, {json.dumps(prefix, ensure_ascii=False)})"
        " end)()"
    )


def test_lenses_follow_migrate_and_reset(nvim: pynvim.Nvim, shop: Shop) -> None:
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    statusline = 'require("berth").statusline()'
    name = shop.database.removesuffix(f"_{shop.instance}")
    wait(nvim, f"{statusline} == '{name} :{shop.port} ⚠ 1 pending'")
    # As a user's CursorHold autocmd would: the lenses are asked for once.
    lua(nvim, "vim.lsp.codelens.refresh()")
    wait(nvim, lens_is("pending — apply"))

    # Nobody asks again: the plugin does, when the berth changes.
    nvim.command("BerthMigrate")
    wait(nvim, f"{statusline} == '{name} :{shop.port} ✓'")
    wait(nvim, lens_is("applied "))

    # A reset changes them too.
    nvim.command("BerthReset!")
    wait(nvim, "#((require('berth').status(0) or {}).trash or {}) == 1")
    wait(nvim, lens_is("applied "))


def test_reset_question_fits_one_line(nvim: pynvim.Nvim, shop: Shop) -> None:
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    wait(nvim, "(require('berth').status(0) or {}).state == 'ready'")
    # :BerthReset asks in one short line (Neovim 0.7 cuts a longer one); the
    # choice says where the old database goes. Cancel keeps the database.
    lua(
        nvim,
        """
        vim.ui.select = function(items, opts, choose)
          vim.g.berth_prompt = opts.prompt
          vim.g.berth_items = vim.tbl_map(opts.format_item or tostring, items)
          choose("Cancel")
        end
        """,
    )
    nvim.command("BerthReset")
    prompt = lua(nvim, "return vim.g.berth_prompt")
    assert prompt == f"Reset {shop.database}?"
    assert len(prompt) < lua(nvim, "return vim.o.columns") - 10
    items = lua(nvim, "return vim.g.berth_items")
    assert "trash" in items[0] and "berth restore" in items[0], items
    assert all(len(item) < 70 for item in items), items
    assert berth_json(shop.root, "status")["trash"] == []

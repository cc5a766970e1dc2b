"""The Neovim plugin's migration workflow and handoffs, against the real server.

:BerthNewMigration, :BerthPreview, :BerthDiff, :BerthPsql, :BerthDadbod,
:BerthBerths and :BerthRestore run end to end on a provisioned worktree in
both Neovims. Stopping Postgres would stop the server every test shares, so
:BerthStopServer and :BerthStartServer are checked up to the request they send.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pynvim

from berthtest import berth, berth_json, tables, url_of

from .conftest import PENDING, Shop
from .nvimtest import lua, said, wait

BUFFER = "vim.api.nvim_buf_get_name(0)"


def ready(nvim: pynvim.Nvim, shop: Shop) -> None:
    lua(nvim, 'require("berth").setup()')
    nvim.command(f"edit {shop.root / PENDING}")
    wait(nvim, "(require('berth').status(0) or {}).state == 'ready'")
    # User BerthOpened: the plugin has shown (and set up) a file a command wrote.
    lua(nvim, "vim.g.opened = 0")
    nvim.command("autocmd User BerthOpened let g:opened += 1")


def opened(nvim: pynvim.Nvim, command: str, suffix: str) -> Path:
    """Run ``command``; once the plugin opened its file, that file's path (ending in ``suffix``)."""
    before = lua(nvim, "return vim.g.opened")
    nvim.command(command)
    wait(nvim, f"vim.g.opened > {before}")
    path = Path(lua(nvim, f"return {BUFFER}"))
    assert path.name.endswith(suffix), path
    return path


def test_new_migration_preview_and_diff(nvim: pynvim.Nvim, shop: Shop) -> None:
    ready(nvim, shop)
    name = shop.database.removesuffix(f"_{shop.instance}")

    # What migrate would run, read-only: the one pending migration.
    preview = opened(nvim, "BerthPreview", "pending.sql")
    assert preview.is_file()
    text = "\n".join(nvim.current.buffer[:])
    assert "CREATE TABLE t3" in text and "orders" not in text, text
    assert lua(nvim, "return vim.bo.readonly and not vim.bo.modifiable")

    # From the preview (berth's home, not the worktree): the next file, numbered
    # and named as the project's files are, opened for editing.
    created = opened(nvim, "BerthNewMigration add orders", "0004_add_orders.sql")
    assert created == shop.root / "db" / "migrations" / "0004_add_orders.sql"
    assert created.is_file()
    assert lua(nvim, "return vim.bo.modifiable and not vim.bo.readonly")
    created.write_text("CREATE TABLE orders (id int PRIMARY KEY);\n")
    wait(nvim, f"require('berth').statusline() == '{name} :{shop.port} ⚠ 2 pending'")

    # The preview again, the same buffer as written now: both, in order.
    assert opened(nvim, "BerthPreview", "pending.sql") == preview
    text = "\n".join(nvim.current.buffer[:])
    assert text.index("CREATE TABLE t3") < text.index("CREATE TABLE orders"), text
    assert lua(nvim, "return vim.bo.readonly and not vim.bo.modifiable")

    # The schema diff against the template, read-only.
    opened(nvim, "BerthDiff", "diff.txt")
    assert shop.database in nvim.current.buffer[0]
    assert lua(nvim, "return vim.bo.readonly and not vim.bo.modifiable")
    # Nothing was applied by looking.
    assert berth_json(shop.root, "status")["migrations"]["pending"] == 2


def test_dadbod_gets_the_url_without_its_password(nvim: pynvim.Nvim, shop: Shop) -> None:
    ready(nvim, shop)
    lua(nvim, 'vim.g.dbs = { { name = "prod", url = "postgresql://prod@db.example/prod" } }')
    nvim.command("BerthDadbod")
    wait(nvim, "#vim.g.dbs == 2")
    name = "berth " + shop.database.removesuffix(f"_{shop.instance}")
    dbs = lua(nvim, "return vim.g.dbs")
    assert dbs[0]["name"] == "prod"
    assert dbs[1]["name"] == name
    url = dbs[1]["url"]
    real = urlsplit(url_of(shop.root))
    assert url == f"postgresql://{real.username}@{real.hostname}:{real.port}/{shop.database}"
    assert lua(nvim, "return vim.b.db") == url
    # The password only in this Neovim's environment, where psql (vim-dadbod's) finds it.
    password = lua(nvim, "return vim.env.PGPASSWORD")
    assert password == real.password
    assert real.password not in json.dumps(dbs)
    with psycopg.connect(url, password=password) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (shop.database,)

    # Again, with g:dbs a dict: the berth's entry is replaced, not added twice.
    lua(nvim, 'vim.g.dbs = { prod = "postgresql://prod@db.example/prod" }')
    lua(nvim, "vim.env.PGPASSWORD = nil")
    lua(nvim, 'require("berth").dadbod({ password = false })')
    wait(nvim, f"(vim.g.dbs or {{}})[{json.dumps(name)}] ~= nil")
    assert lua(nvim, "return vim.g.dbs") == {"prod": "postgresql://prod@db.example/prod", name: url}
    assert lua(nvim, "return vim.env.PGPASSWORD") is None


def test_psql_opens_on_the_berths_database(nvim: pynvim.Nvim, shop: Shop) -> None:
    ready(nvim, shop)
    nvim.command("BerthPsql")
    assert lua(nvim, "return vim.bo.buftype") == "terminal"
    # psql's prompt names the database it is connected to.
    prompt = json.dumps(f"{shop.database}=>")
    lines = "table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')"
    wait(nvim, f"{lines}:find({prompt}, 1, true) ~= nil")
    # The migration's buffer is still there, untouched, in the window above.
    assert lua(nvim, f"return vim.fn.bufloaded({json.dumps(str(shop.root / PENDING))})") == 1


# Records the commands the berth client sends instead of sending anything (the
# server every test shares must keep running): 0.11 calls client:request(...),
# 0.7 client.request(...); an instance field answers both.
RECORD = """
local client = require("berth").client(0)
_G.berth_sent = {}
client.request = function(...)
  local args = { ... }
  if type(args[1]) == "table" then table.remove(args, 1) end
  if args[1] == "workspace/executeCommand" then
    table.insert(_G.berth_sent, { method = args[1], params = args[2] })
  end
  return true, 1
end
"""


def test_stop_and_start_server_send_their_commands(nvim: pynvim.Nvim, shop: Shop) -> None:
    ready(nvim, shop)
    lua(nvim, RECORD)
    folder = lua(nvim, 'return vim.uri_from_fname(require("berth").client(0).config.root_dir)')

    def sent() -> list[object]:
        return list(lua(nvim, "local s = _G.berth_sent; _G.berth_sent = {}; return s"))

    # :BerthStopServer asks first; Cancel sends nothing, Stop sends the command.
    answer = (
        "vim.ui.select = function(items, opts, choose) vim.g.asked = opts.prompt choose({}) end"
    )
    lua(nvim, answer.replace("{}", '"Cancel"'))
    nvim.command("BerthStopServer")
    assert lua(nvim, "return vim.g.asked") == "Stop berth's Postgres server?"
    assert sent() == []
    lua(nvim, answer.replace("{}", '"Stop"'))
    nvim.command("BerthStopServer")
    stop = {
        "method": "workspace/executeCommand",
        "params": {"command": "berth.stopServer", "arguments": [folder]},
    }
    assert sent() == [stop]
    nvim.command("BerthStopServer!")
    assert sent() == [stop]
    nvim.command("BerthStartServer")
    start = {**stop, "params": {"command": "berth.startServer", "arguments": [folder]}}
    assert sent() == [start]
    nvim.command("BerthDiff demo")
    diff = {**stop, "params": {"command": "berth.diffSchema", "arguments": [folder, "demo"]}}
    assert sent() == [diff]


LINES = "vim.api.nvim_buf_get_lines(0, 0, -1, false)"


def listing(nvim: pynvim.Nvim) -> list[str]:
    return list(lua(nvim, f"return {LINES}"))


def has_line(text: str) -> str:
    """A Lua condition: a line of the current buffer holds ``text``."""
    return (
        f"(function() for _, l in ipairs({LINES}) do "
        f"if l:find({json.dumps(text)}, 1, true) then return true end end return false end)()"
    )


def test_berths_listing_restore_and_open(nvim: pynvim.Nvim, shop: Shop) -> None:
    ready(nvim, shop)
    nvim.command("BerthBerths")
    wait(nvim, "vim.bo.filetype == 'berthberths'")
    lines = listing(nvim)
    # This worktree's berth, marked, with its app port; nothing in the trash yet.
    assert f"  * feature/cart  {shop.instance}, slot " in "\n".join(lines), lines
    assert any("this worktree" in line for line in lines), lines
    port = f"      app      http://127.0.0.1:{shop.port}"
    assert port in lines, lines
    assert "Trash — empty" in lines, lines
    assert lua(nvim, "return vim.bo.modifiable") is False

    # <CR> on the port opens the app (vim.ui.open, or the URL said on 0.7).
    lua(nvim, "if vim.ui.open then vim.ui.open = function(u) vim.g.opened_url = u end end")
    nvim.command(f"call cursor({lines.index(port) + 1}, 1)")
    nvim.input("<CR>")
    url = f"http://127.0.0.1:{shop.port}"
    if lua(nvim, "return vim.ui.open ~= nil"):
        wait(nvim, f"vim.g.opened_url == {json.dumps(url)}")
    else:
        wait(nvim, said(f"berth: {url}"))

    # A table only the current database has; then a reset on the command line.
    with psycopg.connect(url_of(shop.root), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
    berth(shop.root, "reset", "--yes")
    (trashed,) = berth_json(shop.root, "status")["trash"]
    assert "kept" not in tables(url_of(shop.root))
    # `r` reads the listing again (a status the server pushes would too).
    nvim.input("r")
    wait(nvim, has_line(trashed))
    entry = next(line for line in listing(nvim) if trashed in line)
    assert entry.startswith(f"    {trashed}  feature/cart, reset, "), entry

    # <CR> on the entry asks first; Cancel leaves it.
    answer = (
        "vim.ui.select = function(items, opts, choose) vim.g.asked = opts.prompt choose({}) end"
    )
    lua(nvim, answer.replace("{}", '"Cancel"'))
    nvim.command(f"call cursor({listing(nvim).index(entry) + 1}, 1)")
    nvim.input("<CR>")
    wait(nvim, f"vim.g.asked == {json.dumps(f'Restore {shop.database}?')}")
    assert berth_json(shop.root, "status")["trash"] == [trashed]

    # :BerthRestore NAME (completed from the listing) brings it back, after asking.
    assert lua(nvim, "return vim.fn.getcompletion('BerthRestore ', 'cmdline')") == [trashed]
    lua(nvim, answer.replace("{}", '"Restore"'))
    nvim.command(f"BerthRestore {trashed}")
    wait(nvim, f"not ({has_line(trashed + '  ')})")
    wait(nvim, has_line("replaced by restore of " + trashed))
    assert "kept" in tables(url_of(shop.root))
    assert trashed not in berth_json(shop.root, "status")["trash"]

    # q closes the listing; nothing it did is deprecated on this Neovim.
    nvim.input("q")
    wait(nvim, "vim.bo.filetype ~= 'berthberths'")
    assert "deprecated" not in lua(nvim, 'return vim.fn.execute("messages")')

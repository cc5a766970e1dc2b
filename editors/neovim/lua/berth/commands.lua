-- The :Berth* user commands. plugin/berth.lua defines them at startup without
-- loading the rest: each loads what it runs when it runs. Nothing starts a
-- language server but setup() (and the buffers it attaches to).

local M = {}

local function actions()
  return require("berth.actions")
end

local function berth()
  return require("berth")
end

-- name -> { function(opts), { nargs, bang, desc, complete } }
local COMMANDS = {
  BerthStatus = {
    function()
      actions().show_status()
    end,
    { desc = "berth: show this worktree's berth" },
  },
  BerthReset = {
    function(o)
      berth().reset(o.bang)
    end,
    { bang = true, desc = "berth: fresh database from the template (old one to the trash)" },
  },
  BerthMigrate = {
    function()
      berth().execute("berth.migrate")
    end,
    { desc = "berth: apply pending migrations" },
  },
  BerthProvision = {
    function()
      berth().execute("berth.provision")
    end,
    { desc = "berth: give this worktree its berth" },
  },
  BerthFork = {
    function(o)
      berth().execute("berth.fork", { o.args ~= "" and o.args or "main" })
    end,
    { nargs = "?", desc = "berth: copy another berth's (default: main's) database here" },
  },
  BerthSnapshot = {
    function(o)
      berth().execute("berth.snapshot", { o.args })
    end,
    { nargs = 1, desc = "berth: save this database as a named baseline" },
  },
  BerthCopyUrl = {
    function()
      actions().copy_url()
    end,
    { desc = "berth: copy DATABASE_URL" },
  },
  BerthNewMigration = {
    function(o)
      actions().new_migration(o.args)
    end,
    { nargs = 1, desc = "berth: the next migration file, named as your migration tool names them" },
  },
  BerthPreview = {
    function()
      actions().preview()
    end,
    { desc = "berth: the SQL berth migrate would run (read-only)" },
  },
  BerthDiff = {
    function(o)
      actions().diff(o.args)
    end,
    { nargs = "?", desc = "berth: this database against its template or a baseline (read-only)" },
  },
  BerthPsql = {
    function()
      actions().psql()
    end,
    { desc = "berth: berth psql in a terminal split" },
  },
  BerthStartServer = {
    function()
      actions().start_server()
    end,
    { desc = "berth: start berth's Postgres server" },
  },
  BerthStopServer = {
    function(o)
      actions().stop_server(o.bang)
    end,
    { bang = true, desc = "berth: stop berth's Postgres server (asks first; ! does not)" },
  },
  BerthBerths = {
    function()
      require("berth.berths").open()
    end,
    { desc = "berth: the project's berths, trash, baselines and templates" },
  },
  BerthRestore = {
    function(o)
      require("berth.berths").restore(berth().buffer_root(0), o.args, o.bang)
    end,
    {
      nargs = 1,
      bang = true,
      complete = function(lead)
        return require("berth.berths").trash_names(lead)
      end,
      desc = "berth: a trash entry becomes its berth's database again (asks first; ! does not)",
    },
  },
  BerthDadbod = {
    function()
      actions().dadbod()
    end,
    { desc = "berth: this database for vim-dadbod (g:dbs, b:db; password in $PGPASSWORD)" },
  },
}

--- The names of the commands, sorted.
function M.names()
  local names = vim.tbl_keys(COMMANDS)
  table.sort(names)
  return names
end

--- Define (or define again) every :Berth* command.
function M.define()
  for name, command in pairs(COMMANDS) do
    vim.api.nvim_create_user_command(name, command[1], command[2])
  end
end

return M

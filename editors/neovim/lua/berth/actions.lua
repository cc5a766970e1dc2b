-- What the :Berth* commands do beyond the server's status actions: the status
-- and URL, migration files, the SQL migrate would run, the schema diff, psql,
-- the Postgres server, and the handoff to vim-dadbod. Each asks the server of
-- the current buffer's worktree (workspace/executeCommand).

local berth = require("berth")

local M = {}

--- :BerthStatus: the berth, freshly read.
function M.show_status()
  local client = berth.client(0)
  if client == nil then
    vim.notify(table.concat(berth.describe(nil), "\n"))
    return
  end
  berth.execute("berth.showStatus", {}, function(status)
    if type(status) == "table" then
      berth.statuses[client.config.root_dir] = status
    end
    vim.notify(table.concat(berth.describe(status), "\n"))
  end)
end

--- :BerthCopyUrl: DATABASE_URL, with its password, into the unnamed and + registers.
function M.copy_url()
  berth.execute("berth.copyDatabaseUrl", {}, function(url)
    if type(url) == "string" then
      vim.fn.setreg('"', url)
      if vim.fn.has("clipboard") == 1 then
        pcall(vim.fn.setreg, "+", url)
      end
      vim.notify("berth: DATABASE_URL copied")
    end
  end)
end

-- Show the file a server command wrote (the server also asks with
-- window/showDocument where the client can: then it is shown already).
-- `drop` edits it here, or in a split when this buffer cannot be left.
local function open_result(root, result, readonly)
  if type(result) ~= "table" or type(result.path) ~= "string" then
    return
  end
  vim.cmd("drop " .. vim.fn.fnameescape(result.path))
  if readonly then
    -- A view berth wrote again (a second preview): what is on disk now.
    vim.bo.modifiable = true
    vim.cmd("silent edit!")
    -- Generated: editing it changes nothing berth does.
    vim.bo.readonly = true
    vim.bo.modifiable = false
  end
  -- A view lives in berth's home, outside the worktree: the :Berth* commands
  -- run from it act on the berth it shows.
  vim.b.berth_root = root
  vim.api.nvim_exec_autocmds("User", { pattern = "BerthOpened", modeline = false })
end

--- :BerthNewMigration NAME: the next migration file, named as the project's tool names them.
function M.new_migration(name)
  name = vim.trim(name or "")
  if name == "" then
    vim.notify("berth: name the migration, e.g. :BerthNewMigration add_orders", vim.log.levels.ERROR)
    return
  end
  local root = berth.buffer_root(0)
  berth.execute("berth.newMigration", { name }, function(result)
    open_result(root, result, false)
  end)
end

--- :BerthPreview: the SQL `berth migrate` would run, read-only.
function M.preview()
  local root = berth.buffer_root(0)
  berth.execute("berth.previewMigrations", {}, function(result)
    if type(result) == "table" and result.pending == 0 then
      vim.notify("berth: no pending migrations: migrate would run nothing")
    end
    open_result(root, result, true)
  end)
end

--- :BerthDiff [baseline]: this database against its template (or a baseline), read-only.
function M.diff(baseline)
  local args = {}
  if baseline ~= nil and baseline ~= "" then
    args = { baseline }
  end
  local root = berth.buffer_root(0)
  berth.execute("berth.diffSchema", args, function(result)
    open_result(root, result, true)
  end)
end

--- The command that runs berth's `sub` command: the one that starts the server, `lsp` and on replaced.
function M.berth_command(root, sub)
  local argv = {}
  for _, arg in ipairs(berth.command(root)) do
    if arg == "lsp" then
      break
    end
    table.insert(argv, arg)
  end
  table.insert(argv, sub)
  return argv
end

--- :BerthPsql: `berth psql` in a terminal split, in the worktree.
function M.psql()
  local root = berth.buffer_root(0)
  if root == nil then
    vim.notify("berth: this buffer is not in a worktree with berth config", vim.log.levels.ERROR)
    return
  end
  local argv = M.berth_command(root, "psql")
  -- A new, empty buffer: a terminal takes over the buffer it starts in.
  vim.cmd("botright new")
  vim.b.berth_root = root
  if vim.fn.has("nvim-0.11") == 1 then
    vim.fn.jobstart(argv, { cwd = root, term = true })
  else
    vim.fn.termopen(argv, { cwd = root })
  end
  vim.cmd("startinsert")
end

--- :BerthStartServer: start berth's own Postgres server.
function M.start_server()
  berth.execute("berth.startServer")
end

--- :BerthStopServer[!]: stop berth's own Postgres server, after asking (not with !).
function M.stop_server(force)
  if force then
    return berth.execute("berth.stopServer")
  end
  vim.ui.select({ "Stop", "Cancel" }, {
    prompt = "Stop berth's Postgres server?",
    format_item = function(item)
      return item == "Stop" and "Stop: every berth on it goes offline" or item
    end,
  }, function(choice)
    if choice == "Stop" then
      berth.execute("berth.stopServer")
    end
  end)
end

-- Percent-encoding for the parts of a URL.
local function encode(text)
  return (tostring(text):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

--- The URL of a `berth.connection` result, without its password.
function M.url(connection)
  local host = tostring(connection.host)
  if host:sub(1, 1) == "/" then
    host = encode(host) -- a socket directory
  elseif host:find(":", 1, true) then
    host = "[" .. host .. "]" -- IPv6
  end
  return string.format(
    "postgresql://%s@%s:%s/%s",
    encode(connection.user),
    host,
    tostring(connection.port),
    encode(connection.database)
  )
end

--- `berth <project>_<slug>`: the database's name without the berth's id, as the statusline shows it.
function M.connection_name(connection)
  local database, id = tostring(connection.database), tostring(connection.name)
  local suffix = "_" .. id
  if database:sub(-#suffix) == suffix then
    database = database:sub(1, #database - #suffix)
  end
  return "berth " .. database
end

-- g:dbs with the berth's entry in place of one of the same name, in the form
-- the user chose: a list of { name, url } (vim-dadbod-ui) or a name -> url dict.
local function with_db(dbs, name, url)
  if type(dbs) == "table" and dbs[1] ~= nil then
    for _, entry in ipairs(dbs) do
      if type(entry) == "table" and entry.name == name then
        entry.url = url
        return dbs
      end
    end
    table.insert(dbs, { name = name, url = url })
    return dbs
  end
  dbs = type(dbs) == "table" and dbs or {}
  dbs[name] = url
  return dbs
end

--- vim-dadbod: g:dbs gets the berth's URL (no password), b:db too, and the
--- password goes to $PGPASSWORD for this Neovim session only (psql reads it);
--- `opts.password = false` leaves $PGPASSWORD alone. Nothing is written to a file.
function M.dadbod(opts)
  opts = opts or {}
  local args = opts.password == false and {} or { { secrets = true } }
  berth.execute("berth.connection", args, function(connection)
    if type(connection) ~= "table" or type(connection.database) ~= "string" then
      return
    end
    local name, url = M.connection_name(connection), M.url(connection)
    vim.g.dbs = with_db(vim.g.dbs, name, url)
    vim.b.db = url
    local where = "g:dbs[" .. vim.inspect(name) .. "] and b:db"
    if type(connection.password) == "string" then
      vim.env.PGPASSWORD = connection.password
      vim.notify("berth: " .. where .. " = " .. url .. " (its password in $PGPASSWORD for this session)")
    else
      vim.notify("berth: " .. where .. " = " .. url)
    end
  end)
end

return M

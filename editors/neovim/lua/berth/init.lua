-- berth for Neovim: starts `berth lsp` for buffers in a git worktree, keeps the
-- `berth/status` it pushes, and offers a statusline component and user commands.
-- Works on Neovim 0.7 (Debian stable: vim.lsp.start_client + buf_attach_client)
-- and on current releases (vim.lsp.start).

local view = require("berth.view")

local M = {}

local defaults = {
  -- The berth executable; nil: <worktree>/.venv/bin/berth if there is one, else `berth` on PATH.
  cmd = nil,
  show_secrets = false,
  -- Called with each status table the server pushes.
  on_status = nil,
  -- Show the server's code lenses (`applied …`, `pending — apply`) and keep them current.
  codelens = true,
  -- Filetypes are not checked: any file in a worktree with berth config gets the client.
  root_markers = { "berth.toml", "pyproject.toml", ".env.berth" },
}

M.config = vim.deepcopy(defaults)
-- berth/status tables by worktree root (a path).
M.statuses = {}
-- Client ids by worktree root: the client serving it now (reused on Neovim 0.7,
-- where vim.lsp.start does not exist; an older client's exit leaves it alone).
local clients = {}
-- Roots whose reset question the user already answered with :BerthReset:
-- { title = "Reset", token = n } until that command's response arrives.
local confirmed = {}
local tokens = 0
local uv = vim.uv or vim.loop

local function exists(path)
  return uv.fs_stat(path) ~= nil
end

local function is_executable(path)
  return vim.fn.executable(path) == 1
end

local function parent(path)
  local up = vim.fn.fnamemodify(path, ":h")
  if up == path then
    return nil
  end
  return up
end

--- The worktree root of `path`: the closest directory with a `.git` (a file in
--- linked worktrees) that also holds one of the root markers.
function M.root(path)
  local dir = (path == nil or path == "") and vim.fn.getcwd() or vim.fn.fnamemodify(path, ":p")
  dir = dir:gsub("(.)/+$", "%1")
  if (uv.fs_stat(dir) or {}).type ~= "directory" then
    dir = vim.fn.fnamemodify(dir, ":h")
  end
  while dir do
    if exists(dir .. "/.git") then
      for _, marker in ipairs(M.config.root_markers) do
        if exists(dir .. "/" .. marker) then
          return dir
        end
      end
      return nil
    end
    dir = parent(dir)
  end
  return nil
end

--- The command that starts the server for `root`.
function M.command(root)
  local cmd = M.config.cmd
  if type(cmd) == "table" then
    return cmd
  end
  if type(cmd) == "string" and cmd ~= "" then
    return { cmd, "lsp" }
  end
  local venv = root and (root .. "/.venv/bin/berth")
  if venv and is_executable(venv) then
    return { venv, "lsp" }
  end
  return { "berth", "lsp" }
end

--- The worktree root of the buffer (0: the current one), or nil outside a berth's worktree.
--- A buffer berth opened (a preview, a diff, psql) has its worktree in b:berth_root.
local function buffer_root(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local owner = vim.b[bufnr].berth_root
  if type(owner) == "string" and owner ~= "" then
    return owner
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if vim.bo[bufnr].buftype ~= "" then
    name = ""
  end
  return M.root(name)
end

M.buffer_root = buffer_root

--- The last status the server pushed for the buffer's worktree (nil when none).
function M.status(bufnr)
  local root = buffer_root(bufnr)
  return root and M.statuses[root] or nil
end

M.name = view.name
M.format = view.format
M.shorten = view.shorten

--- The lines `:BerthStatus` prints.
function M.describe(status)
  return view.describe(status, M.config.show_secrets)
end

--- Statusline component: the berth of the current buffer's worktree, or "".
--- e.g. `set statusline+=%{v:lua.require'berth'.statusline()}`
function M.statusline()
  return M.format(M.status(0))
end

local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

-- Clients whose lenses are to be asked for again once the editor is free.
local lens_due = {}

-- Ask the client's server for the lenses of each of its buffers again: they
-- follow the berth's state, which a reset or a migrate has just changed.
-- Neovim does not do it by itself (0.7 has no workspace/codeLens/refresh at all).
local function refresh_lenses(client_id)
  if not M.config.codelens or lens_due[client_id] then
    return
  end
  lens_due[client_id] = true
  vim.schedule(function()
    lens_due[client_id] = nil
    local client = vim.lsp.get_client_by_id(client_id)
    if client == nil then
      return
    end
    for _, bufnr in ipairs(vim.lsp.get_buffers_by_client_id(client_id)) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
        request(client, "textDocument/codeLens", params, function(err, result, ctx)
          if err == nil then
            vim.lsp.codelens.on_codelens(err, result or {}, ctx)
          end
        end, bufnr)
      end
    end
  end)
end

local function on_lens_refresh(_, _, ctx)
  refresh_lenses(ctx.client_id)
  return vim.NIL
end

local function on_status(_, status, ctx)
  if type(status) ~= "table" or type(status.folder) ~= "string" then
    return
  end
  if ctx and ctx.client_id then
    refresh_lenses(ctx.client_id)
  end
  local root = vim.uri_to_fname(status.folder)
  M.statuses[root] = status
  if M.config.on_status then
    M.config.on_status(status)
  end
  vim.cmd("redrawstatus!")
  vim.api.nvim_exec_autocmds("User", { pattern = "BerthStatus", modeline = false })
end

-- The server confirms a reset with window/showMessageRequest. While a
-- :BerthReset is in flight the user has answered already; otherwise (a code
-- action, a lens, or a reset the server refused without asking) ask here.
local function on_message_request(err, params, ctx, config)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local root = client and client.config.root_dir
  local answer = root and confirmed[root]
  if answer and type(params) == "table" then
    for _, action in ipairs(params.actions or {}) do
      if action.title == answer.title then
        confirmed[root] = nil
        return action
      end
    end
  end
  return vim.lsp.handlers["window/showMessageRequest"](err, params, ctx, config)
end

-- Forget what a server that is gone pushed or was told (unless a newer client took over).
local function on_exit(root, client_id)
  if clients[root] ~= nil and client_id ~= nil and clients[root] ~= client_id then
    return
  end
  clients[root] = nil
  confirmed[root] = nil
  if M.statuses[root] == nil then
    return
  end
  M.statuses[root] = nil
  -- on_exit may run in a libuv callback, where the editor's API is off limits.
  vim.schedule(function()
    vim.cmd("redrawstatus!")
    vim.api.nvim_exec_autocmds("User", { pattern = "BerthStatus", modeline = false })
  end)
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.workspace = caps.workspace or {}
  -- The server then says when its lenses changed (workspace/codeLens/refresh).
  caps.workspace.codeLens = { refreshSupport = true }
  return caps
end

local function client_config(root)
  return {
    name = "berth",
    cmd = M.command(root),
    cmd_cwd = root,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = { showSecrets = M.config.show_secrets },
    capabilities = capabilities(),
    settings = { berth = { showSecrets = M.config.show_secrets } },
    handlers = {
      ["berth/status"] = on_status,
      ["window/showMessageRequest"] = on_message_request,
      ["workspace/codeLens/refresh"] = on_lens_refresh,
    },
    on_attach = function(client)
      refresh_lenses(client.id)
    end,
    on_exit = function(_, _, client_id)
      on_exit(root, client_id)
    end,
  }
end

--- Attach the berth client to `bufnr` if it lies in a worktree with berth config.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local root = buffer_root(bufnr)
  if root == nil then
    return nil
  end
  if vim.lsp.start then
    local id = vim.lsp.start(client_config(root), { bufnr = bufnr })
    if id then
      clients[root] = id
    end
    return id
  end
  local id = clients[root]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client(client_config(root))
    clients[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- Every running berth client (one per worktree).
function M.clients()
  local all = vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()
  local found = {}
  for _, client in ipairs(all) do
    if client.name == "berth" then
      table.insert(found, client)
    end
  end
  return found
end

--- The berth client serving the worktree `root`.
function M.client_at(root)
  for _, client in ipairs(M.clients()) do
    if client.config.root_dir == root then
      return client
    end
  end
  return nil
end

--- The berth client serving the buffer's worktree.
function M.client(bufnr)
  return M.client_at(buffer_root(bufnr))
end

-- workspace/executeCommand of `command` for the client's worktree; `finish(err, result)`
-- runs when the response arrives, whatever it is.
local function send(client, command, args, finish)
  local arguments = { vim.uri_from_fname(client.config.root_dir) }
  for _, arg in ipairs(args or {}) do
    table.insert(arguments, arg)
  end
  local params = { command = command, arguments = arguments }
  return request(client, "workspace/executeCommand", params, function(err, result)
    finish(err, result)
  end)
end

local function no_client()
  local hint = M.configured and "" or " (call require('berth').setup() first)"
  vim.notify("berth: no berth language server for this buffer" .. hint, vim.log.levels.ERROR)
end

local function report(err)
  vim.notify("berth: " .. tostring(err.message or err), vim.log.levels.ERROR)
end

--- Run a berth command on the server for the current buffer's worktree.
--- `done(result)` gets the command's result.
function M.execute(command, args, done)
  return M.execute_at(buffer_root(0), command, args, done)
end

--- Run a berth command on the server of the worktree `root` (as M.execute).
function M.execute_at(root, command, args, done)
  local client = root and M.client_at(root)
  if client == nil then
    return no_client()
  end
  send(client, command, args, function(err, result)
    if err then
      report(err)
    elseif done then
      done(result)
    end
  end)
end

--- Reset the database (the old one goes to the trash), after asking; `force` skips the question.
function M.reset(force)
  local client = M.client(0)
  if client == nil then
    return no_client()
  end
  local root = client.config.root_dir
  local function go()
    -- The answer is for this command's question only: a reset the server refuses
    -- without asking must not leave it for the next one (a code action, a lens).
    tokens = tokens + 1
    local answer = { title = "Reset", token = tokens }
    confirmed[root] = answer
    local sent = send(client, "berth.reset", {}, function(err)
      if confirmed[root] == answer then
        confirmed[root] = nil
      end
      if err then
        report(err)
      end
    end)
    if not sent and confirmed[root] == answer then
      confirmed[root] = nil
    end
  end
  if force then
    return go()
  end
  local status = M.statuses[root]
  local db = status and type(status.database) == "table" and status.database.name or "the database"
  -- Neovim 0.7 shows the prompt on one line, cut at the screen's width: the
  -- question stays short and the choice says what happens.
  vim.ui.select({ "Reset", "Cancel" }, {
    prompt = "Reset " .. db .. "?",
    format_item = function(item)
      return item == "Reset" and "Reset: the old database goes to the trash (berth restore)" or item
    end,
  }, function(choice)
    if choice == "Reset" then
      go()
    end
  end)
end

--- vim-dadbod: the berth's URL in g:dbs and b:db, its password in $PGPASSWORD (see :help berth-dadbod).
function M.dadbod(opts)
  require("berth.actions").dadbod(opts)
end

--- Set up the client: `require("berth").setup({ cmd = ..., show_secrets = false })`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  M.configured = true
  -- plugin/berth.lua defines them too; a setup() without it (rtp added late) still has them.
  require("berth.commands").define()
  local group = vim.api.nvim_create_augroup("berth", { clear = true })
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  -- Buffers opened before setup() (e.g. the files on the command line).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.api.nvim_buf_get_name(bufnr) ~= "" then
      M.attach(bufnr)
    end
  end
end

return M

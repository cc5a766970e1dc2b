-- :checkhealth berth — is the server there, does it start, what did it say.

local M = {}

-- vim.health on Neovim >= 0.9; the `health` module (report_*) on 0.7 and 0.8.
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error = health.error or health.report_error
local info = health.info or health.report_info

function M.check()
  local berth = require("berth")
  start("berth")
  if vim.fn.has("nvim-0.7") == 1 then
    ok("Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor))
  else
    error("Neovim 0.7 or newer is needed")
  end

  -- The help (doc/berth.txt) is there once :helptags ran on its directory.
  local doc = vim.fn.globpath(vim.o.runtimepath, "doc/berth.txt", false, true)[1]
  if doc == nil then
    warn("doc/berth.txt is not on 'runtimepath': is editors/neovim on it?")
  elseif #vim.fn.getcompletion("berth-setup", "help") == 0 then
    warn("no help tags for " .. doc, { ":helptags " .. vim.fn.fnamemodify(doc, ":h") })
  else
    ok("help tags for " .. doc)
  end
  if vim.fn.exists(":DB") == 2 then
    info("vim-dadbod is here: :BerthDadbod hands it this berth's database")
  end

  -- :checkhealth shows its report in a buffer of its own: look at the clients and the cwd.
  local clients = berth.clients()
  local root = clients[1] and clients[1].config.root_dir or berth.root(nil)
  if root == nil then
    warn("the current directory is not in a git worktree with berth.toml, pyproject.toml or .env.berth")
  end

  local cmd = berth.command(root)
  if vim.fn.executable(cmd[1]) ~= 1 then
    error(cmd[1] .. " is not executable", {
      "install berth (pip install berth-env) in the worktree's .venv or on PATH",
      "or: require('berth').setup({ cmd = '/path/to/berth' })",
    })
    return
  end
  local version = vim.fn.system({ cmd[1], "--version" })
  if vim.v.shell_error ~= 0 then
    error(cmd[1] .. " --version failed: " .. version)
    return
  end
  ok(vim.trim(version) .. " (" .. cmd[1] .. ")")
  vim.fn.system({ cmd[1], "lsp", "--help" })
  if vim.v.shell_error ~= 0 then
    error("this berth has no `lsp` command: upgrade berth")
    return
  end
  ok("berth lsp is available")

  if #clients == 0 then
    warn("no berth language server is running", {
      "call require('berth').setup() and open a file in a worktree",
    })
    return
  end
  for _, client in ipairs(clients) do
    local where = client.config.root_dir
    local status = berth.statuses[where]
    if status == nil then
      warn(where .. ": language server running, no berth/status received yet")
    elseif status.state == "error" then
      error(where .. ": " .. tostring(status.error))
    elseif status.state == "ready" then
      ok(where .. ": " .. berth.format(status))
    else
      info(where .. ": " .. tostring(status.state) .. (status.message and (" — " .. status.message) or ""))
    end
  end
end

return M

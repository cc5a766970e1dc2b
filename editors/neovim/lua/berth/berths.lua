-- :BerthBerths and :BerthRestore: the project's berths, their trash, baselines
-- and templates in a read-only scratch buffer, from the server's `berth.berths`.
-- <CR> on a port opens the app, on a trash entry restores it (after asking);
-- `r` reads it all again, `q` closes. M.render is pure: the lines and what each does.

local berth = require("berth")

local M = {}

-- Per listing buffer: { root = worktree, actions = { [lnum] = action } }.
local buffers = {}
-- The last listing per worktree root: :BerthRestore completes its trash entries.
local last = {}

local function text(value)
  return type(value) == "string" and value or nil
end

local function number(value)
  return type(value) == "number" and value or nil
end

--- `2026-11-20 14:02` (`:30` more with `seconds`), local time, of seconds since the epoch.
function M.when(epoch, seconds)
  if type(epoch) ~= "number" then
    return ""
  end
  return os.date(seconds and "%Y-%m-%d %H:%M:%S" or "%Y-%m-%d %H:%M", math.floor(epoch))
end

--- `7.7 MB` of a size in bytes.
function M.size(bytes)
  if type(bytes) ~= "number" then
    return ""
  end
  local units = { "B", "kB", "MB", "GB", "TB" }
  local value, unit = bytes, 1
  while value >= 1000 and unit < #units do
    value, unit = value / 1000, unit + 1
  end
  return unit == 1 and (tostring(value) .. " B") or string.format("%.1f %s", value, units[unit])
end

--- The URL of a berth's port on this machine.
function M.url(port)
  return "http://127.0.0.1:" .. tostring(port)
end

local function plural(count, noun)
  return tostring(count) .. " " .. noun .. (count == 1 and "" or "s")
end

-- The parts that are there (not nil, not ""), comma separated.
local function join(...)
  local kept = {}
  for i = 1, select("#", ...) do
    local part = select(i, ...)
    if part ~= nil and part ~= "" then
      table.insert(kept, part)
    end
  end
  return table.concat(kept, ", ")
end

local function strip(path)
  return (tostring(path):gsub("(.)/+$", "%1"))
end

--- The listing of a `berth.berths` result: its lines, `actions` by line number
--- ({ kind = "port", url } or { kind = "trash", name, original }) and `headers`
--- (the line numbers of the group titles). `root` is this worktree: its berth is marked.
function M.render(data, root)
  local lines, actions, headers = {}, {}, {}
  local function add(line, action)
    table.insert(lines, line)
    if action then
      actions[#lines] = action
    end
  end
  local function header(title, count, empty)
    add("")
    add(title .. (count > 0 and (" (" .. count .. ")") or (" — " .. empty)))
    table.insert(headers, #lines)
  end
  local server = data.server == "down" and "server down" or "server up"
  add("berth: " .. tostring(data.project) .. " (" .. server .. ")")
  add("<CR> open a port / restore a trash entry · r refresh · q close")

  local rows = type(data.berths) == "table" and data.berths or {}
  local branches = {}
  header("Berths", #rows, "none")
  for _, row in ipairs(rows) do
    local name = text(row.branch) or tostring(row.instance)
    branches[row.instance] = name
    local here = root ~= nil and text(row.worktree) ~= nil and strip(row.worktree) == strip(root)
    local app = type(row.app) == "table" and row.app or {}
    local health = type(app.health) == "table" and app.health or nil
    local gone = row.worktree_exists == false
    add(
      (here and "  * " or "    ")
        .. name
        .. "  "
        .. join(
          tostring(row.instance),
          row.state ~= "active" and tostring(row.state) or nil,
          number(row.slot) and ("slot " .. row.slot) or nil,
          here and "this worktree" or nil,
          app.running == true and "running" or nil,
          health and ("health " .. tostring(health.state)) or nil,
          gone and "worktree gone" or nil
        )
    )
    local ports = {}
    for port_name, port in pairs(type(row.ports) == "table" and row.ports or {}) do
      table.insert(ports, { port_name, port })
    end
    table.sort(ports, function(a, b)
      return a[2] < b[2]
    end)
    for _, entry in ipairs(ports) do
      local url = M.url(entry[2])
      add(string.format("      %-8s %s", entry[1], url), { kind = "port", url = url })
    end
    for _, process in ipairs(type(app.processes) == "table" and app.processes or {}) do
      add("      pid " .. tostring(process.pid) .. "  " .. tostring(process.command))
    end
  end

  local trash = vim.deepcopy(type(data.trash) == "table" and data.trash or {})
  table.sort(trash, function(a, b)
    return (number(a.trashed_at) or 0) > (number(b.trashed_at) or 0)
  end)
  header("Trash", #trash, "empty")
  for _, entry in ipairs(trash) do
    local of = branches[entry.instance] or tostring(entry.original)
    local reason = text(entry.reason) or "trashed"
    add(
      "    " .. tostring(entry.name) .. "  " .. join(of, reason, M.when(entry.trashed_at, true)),
      { kind = "trash", name = entry.name, original = entry.original }
    )
  end

  local down = data.server == "down"
  local baselines = type(data.baselines) == "table" and data.baselines or {}
  header("Baselines", #baselines, down and "server down" or "none")
  for _, baseline in ipairs(baselines) do
    local fingerprint = text(baseline.fingerprint) and baseline.fingerprint:sub(1, 12) or nil
    add("    " .. tostring(baseline.name) .. "  " .. join(M.when(baseline.created), fingerprint))
  end
  local templates = type(data.templates) == "table" and data.templates or {}
  header("Templates", #templates, down and "server down" or "none")
  for _, template in ipairs(templates) do
    local steps = number(template.steps) and plural(template.steps, "migration") or nil
    add(
      "    "
        .. tostring(template.fingerprint):sub(1, 12)
        .. "  "
        .. join(steps, M.size(template.size), M.when(template.created))
    )
  end
  return { lines = lines, actions = actions, headers = headers }
end

-- The listing buffer of `root`, made (and set up) when there is none.
local function listing_buffer(root)
  for bufnr, info in pairs(buffers) do
    if info.root == root and vim.api.nvim_buf_is_valid(bufnr) then
      return bufnr, false
    end
  end
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(bufnr, "berth://berths/" .. root)
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "wipe"
  vim.bo[bufnr].swapfile = false
  vim.b[bufnr].berth_root = root -- the :Berth* commands run from it act on this worktree
  buffers[bufnr] = { root = root, actions = {} }
  local function map(lhs, fn, desc)
    vim.keymap.set("n", lhs, fn, { buffer = bufnr, nowait = true, silent = true, desc = desc })
  end
  map("q", function()
    if #vim.api.nvim_tabpage_list_wins(0) > 1 then
      vim.cmd("close")
    else
      vim.cmd("bwipeout")
    end
  end, "berth: close the berths listing")
  map("r", function()
    M.refresh(bufnr)
  end, "berth: read the berths again")
  map("<CR>", function()
    M.act(bufnr, vim.api.nvim_win_get_cursor(0)[1])
  end, "berth: open the port / restore the trash entry")
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = bufnr,
    callback = function()
      buffers[bufnr] = nil
    end,
  })
  vim.bo[bufnr].filetype = "berthberths"
  return bufnr, true
end

-- A reset, a migrate, a restore elsewhere: each status the servers push reads
-- the shown listings again (once per burst: the editor is free first).
local due = false
local group = vim.api.nvim_create_augroup("berth_berths", { clear = true })
vim.api.nvim_create_autocmd("User", {
  group = group,
  pattern = "BerthStatus",
  callback = function()
    if due then
      return
    end
    due = true
    vim.schedule(function()
      due = false
      for bufnr in pairs(buffers) do
        if vim.fn.bufwinid(bufnr) ~= -1 then
          M.refresh(bufnr)
        end
      end
    end)
  end,
})

local namespace = vim.api.nvim_create_namespace("berth_berths")

local function draw(bufnr, data)
  local info = buffers[bufnr]
  if info == nil or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local view = M.render(data, info.root)
  info.actions = view.actions
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, view.lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  vim.api.nvim_buf_clear_namespace(bufnr, namespace, 0, -1)
  local function paint(lnum, group)
    local line = view.lines[lnum]
    vim.api.nvim_buf_set_extmark(bufnr, namespace, lnum - 1, 0, { end_row = lnum - 1, end_col = #line, hl_group = group })
  end
  paint(2, "Comment")
  for _, lnum in ipairs(view.headers) do
    paint(lnum, "Title")
  end
end

local function fetch(root, done)
  berth.execute_at(root, "berth.berths", {}, function(data)
    if type(data) == "table" and type(data.project) == "string" then
      last[root] = data
      done(data)
    end
  end)
end

--- :BerthBerths: the listing of the current buffer's worktree's project, in a split.
function M.open()
  local root = berth.buffer_root(0)
  fetch(root, function(data)
    local bufnr, new = listing_buffer(root)
    draw(bufnr, data)
    local win = vim.fn.bufwinid(bufnr)
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    else
      vim.cmd("botright split")
      vim.api.nvim_win_set_buf(0, bufnr)
    end
    if new then
      vim.api.nvim_win_set_cursor(0, { 1, 0 })
    end
  end)
end

--- Read the listing `bufnr` shows again.
function M.refresh(bufnr)
  local info = buffers[bufnr]
  if info == nil then
    return
  end
  fetch(info.root, function(data)
    draw(bufnr, data)
  end)
end

-- Refresh every listing of `root` (after a restore).
local function refresh_root(root)
  for bufnr, info in pairs(buffers) do
    if info.root == root then
      M.refresh(bufnr)
    end
  end
end

--- <CR> on line `lnum` of the listing `bufnr`.
function M.act(bufnr, lnum)
  local info = buffers[bufnr]
  local action = info and info.actions[lnum]
  if action == nil then
    return
  end
  if action.kind == "port" then
    M.open_url(action.url)
  elseif action.kind == "trash" then
    M.restore(info.root, action.name, false, action.original)
  end
end

--- Open `url` with the system's handler (vim.ui.open, Neovim 0.10+), else say it.
function M.open_url(url)
  if vim.ui.open then
    vim.ui.open(url)
  else
    vim.notify("berth: " .. url)
  end
end

--- :BerthRestore[!] {name}: the trash entry `name` becomes its berth's database
--- again (the current one goes to the trash); after asking, unless `force`.
function M.restore(root, name, force, original)
  name = vim.trim(name or "")
  if name == "" then
    vim.notify("berth: name the trash entry, e.g. :BerthRestore berth_trash_…", vim.log.levels.ERROR)
    return
  end
  if root == nil or berth.client_at(root) == nil then
    return berth.execute_at(root, "berth.restore", { name }) -- says there is no server here
  end
  local function go()
    berth.execute_at(root, "berth.restore", { name }, function()
      refresh_root(root)
    end)
  end
  if force then
    return go()
  end
  vim.ui.select({ "Restore", "Cancel" }, {
    prompt = "Restore " .. (original or name) .. "?",
    format_item = function(item)
      return item == "Restore" and "Restore: the current database goes to the trash" or item
    end,
  }, function(choice)
    if choice == "Restore" then
      go()
    end
  end)
end

--- The trash entries of the last listing of the current buffer's worktree (for completion).
function M.trash_names(lead)
  local data = last[berth.buffer_root(0) or ""] or {}
  local names = {}
  for _, entry in ipairs(type(data.trash) == "table" and data.trash or {}) do
    if tostring(entry.name):sub(1, #(lead or "")) == (lead or "") then
      table.insert(names, entry.name)
    end
  end
  return names
end

return M

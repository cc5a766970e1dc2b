-- How a berth/status table reads: the statusline text and :BerthStatus's lines.
-- Pure (no editor state but the arguments), shared by init.lua and health.lua.

local M = {}

-- Statusline length of an error's reason (as the VS Code extension's item).
local ERROR_WIDTH = 40

--- `<project>_<slug>`: the database name without the instance id.
function M.name(status)
  local db = type(status.database) == "table" and status.database.name or nil
  if type(db) ~= "string" then
    return type(status.project) == "string" and status.project or "berth"
  end
  local id = type(status.instance) == "string" and status.instance or nil
  if id and db:sub(-(#id + 1)) == "_" .. id then
    return db:sub(1, #db - #id - 1)
  end
  return db
end

local function main_port(ports)
  if type(ports) ~= "table" then
    return nil
  end
  if ports.app then
    return ports.app
  end
  local lowest
  for _, port in pairs(ports) do
    if lowest == nil or port < lowest then
      lowest = port
    end
  end
  return lowest
end

local function badge(m)
  if type(m) ~= "table" then
    return "?"
  end
  if m.state == "ok" then
    return "✓"
  elseif m.state == "pending" then
    return "⚠ " .. m.pending .. " pending"
  elseif m.state == "edited" then
    return "✗ " .. m.edited .. " edited"
  elseif m.state == "ahead" then
    return "⚠ " .. m.missing .. " not on this branch"
  end
  return "?"
end

--- The statusline text of a status table: `shop_feature_cart :8012 ✓`.
function M.format(status)
  if status == nil then
    return ""
  end
  local port = main_port(status.ports)
  local where = port and (" :" .. port) or ""
  if status.state == "ready" then
    if type(status.server) == "table" and status.server.state == "down" then
      return M.name(status) .. where .. " ✗ server down"
    end
    return M.name(status) .. where .. " " .. badge(status.migrations)
  elseif status.state == "provisioning" then
    return M.name(status) .. " provisioning…"
  elseif status.state == "error" then
    local err = type(status.error) == "string" and status.error or "error"
    return "✗ berth: " .. M.shorten(err, ERROR_WIDTH)
  end
  return ""
end

--- The first line of `text`, cut to `max` characters (the last one an ellipsis).
function M.shorten(text, max)
  local line = vim.split(text, "\n")[1]
  if vim.fn.strchars(line) <= max then
    return line
  end
  return vim.fn.strcharpart(line, 0, max - 1) .. "…"
end

local function mask(url, show_secrets)
  if type(url) ~= "string" then
    return "—"
  end
  if show_secrets then
    return url
  end
  return (url:gsub("^([%a][%w+.-]*://[^:/@]+):[^@]*@", "%1:****@"))
end

-- The counts are null (vim.NIL) while nobody could read them: the server is down, say.
local function migrations_text(m, server)
  if type(m.applied) ~= "number" then
    local down = type(server) == "table" and server.state == "down"
    return down and "unknown (server down)" or "unknown"
  end
  return tostring(m.applied)
    .. " applied, "
    .. tostring(m.pending)
    .. " pending, "
    .. tostring(m.edited)
    .. " edited, "
    .. tostring(m.missing)
    .. " not on this branch"
end

--- The lines `:BerthStatus` prints (the URL's password masked unless `show_secrets`).
function M.describe(status, show_secrets)
  if status == nil then
    return { "berth: no status yet for this buffer's worktree (see :checkhealth berth)" }
  end
  if status.state ~= "ready" and status.state ~= "provisioning" then
    local why = status.error or status.message or status.state
    local lines = { "berth: " .. tostring(why) }
    if status.error and type(status.message) == "string" then
      -- e.g. a failed provisioning: what to do about it.
      table.insert(lines, "  " .. status.message)
    end
    return lines
  end
  local ports = {}
  for name, port in pairs(status.ports or {}) do
    table.insert(ports, name .. "=" .. port)
  end
  table.sort(ports)
  local m = status.migrations or {}
  local url = type(status.databaseUrl) == "string" and status.databaseUrl or nil
  local baseline = type(status.baseline) == "string" and status.baseline or "—"
  local template = type(status.template) == "string" and status.template:sub(1, 12) or "—"
  local database = type(status.database) == "table" and status.database.name or "—"
  return {
    "berth " .. tostring(status.instance) .. "  " .. M.format(status),
    "  database   " .. tostring(database),
    "  url        " .. mask(url, show_secrets),
    "  ports      " .. (#ports > 0 and table.concat(ports, ", ") or "none"),
    "  template   " .. template,
    "  baseline   " .. tostring(baseline),
    "  migrations " .. migrations_text(m, status.server),
    "  server     " .. tostring(type(status.server) == "table" and status.server.state or "—"),
    "  app        " .. tostring(type(status.app) == "table" and status.app.health or "—"),
  }
end

return M

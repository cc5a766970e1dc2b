-- berth for Neovim: the :Berth* commands, defined at startup. Nothing else
-- happens until require("berth").setup(): no server starts, no module loads
-- but the commands' table (each command loads what it runs).

if vim.g.loaded_berth or vim.fn.has("nvim-0.7") ~= 1 then
  return
end
vim.g.loaded_berth = true

require("berth.commands").define()

// Drives code-server (VS Code) in Debian's headless Chromium through playwright-core,
// as a person would: read the berth status bar item, open the pending migration,
// apply it with the quick fix, hover the item, reset from its quick pick,
// provision from the command palette, then make a new migration and preview it;
// then the Berths view: the worktree's berth, a reset from the command line
// (its trash entry appears) and Restore from the view.
//
// Usage: node vscode_driver.mjs '<json>' with {url, migration, screenshot, failShot, newMigration,
// menuShot, berthsShot, berth (argv of the berth command line), worktree}
// (and {mode: "multiroot", pick} for runMultiRoot).
// Prints one JSON object per step on stdout; test_vscode.py asserts on them and on
// the database. Every wait is on something appearing in the page, with a deadline.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const STEP = 60_000; // the deadline of any one wait
const ITEM = '[id="berth-env.berth.berth.status"]';

function report(step, data = {}) {
  process.stdout.write(`${JSON.stringify({ step, ...data })}\n`);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // As root Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 2 });
page.setDefaultTimeout(STEP);

/** The status bar item once its text matches `pattern`. */
async function itemWith(pattern) {
  const item = page.locator(ITEM).filter({ hasText: pattern });
  await item.waitFor();
  return { text: (await item.innerText()).trim(), label: await item.getAttribute("aria-label") };
}

/**
 * The command palette with `text` typed, once `row(palette)` shows. A key press
 * can go astray, and a palette can close as soon as it opened (a document the
 * server opens takes the focus as it comes); a window just opened lists the
 * extensions' commands only once it has read them, and a palette already open
 * does not learn of them. So it is opened again, after a click into the
 * window, until the row shows.
 */
async function paletteShowing(text, row) {
  const palette = page.locator(".quick-input-widget");
  const end = Date.now() + STEP;
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press(attempt % 2 ? "Control+Shift+P" : "F1");
    try {
      await palette.locator("input").fill(text, { timeout: 2_000 });
      await row(palette).waitFor({ timeout: 2_000 });
      return palette;
    } catch (error) {
      if (Date.now() > end) throw error;
      await page.keyboard.press("Escape");
      await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } });
    }
  }
}

/** The palette's rows whose text has `text` (the first of them). */
function rowWith(text) {
  return (palette) => palette.locator(".monaco-list-row").filter({ hasText: text }).first();
}

/** Run `title` from the command palette: typed until it is the row Enter runs. */
async function paletteRun(title) {
  await paletteShowing(`>${title}`, (palette) =>
    palette.locator(".monaco-list-row.focused").filter({ hasText: title }),
  );
  await page.keyboard.press("Enter");
}

/** A notification toast whose message matches `pattern`. */
function toast(pattern) {
  return page.locator(".notification-toast").filter({ hasText: pattern });
}

async function run() {
  await page.goto(config.url);
  await page.locator(".statusbar").waitFor();
  const pending = await itemWith(/pending/);
  const icon = await page.locator(`${ITEM} .codicon`).first().getAttribute("class");
  report("status", { ...pending, icon });

  // Open the pending migration with quick open.
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } });
  await page.keyboard.press("Control+P");
  const file = config.migration.split("/").pop();
  await page.locator(".quick-input-widget input").fill(file);
  await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: file }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".monaco-editor .view-lines").first().waitFor();
  await page.locator(".squiggly-info").first().waitFor();

  // The diagnostic, as the Problems panel lists it.
  await page.keyboard.press("Control+Shift+M");
  const problem = page.locator(".markers-panel .monaco-list-row").filter({ hasText: "pending" });
  await problem.first().waitFor();
  report("diagnostic", { text: (await problem.first().innerText()).replace(/\s+/g, " ").trim() });

  // The quick fix: cursor on the migration's first line, Ctrl+., Enter.
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+Home");
  await page.keyboard.press("Control+.");
  const fix = page.locator(".action-widget .monaco-list-row.action").first();
  await fix.waitFor();
  report("quickfix", { text: (await fix.innerText()).trim() });
  // Clicking a row of this list does not run it in headless Chromium; Enter does.
  await page.keyboard.press("Enter");
  await toast(/applied/).first().waitFor();
  report("migrated", await itemWith(/✓/));

  // The tooltip, and the screenshot of the item with it (over the editor, not the panel).
  await page.keyboard.press("Control+J");
  await page.locator(".part.panel").waitFor({ state: "hidden" });
  await page.locator(ITEM).hover();
  const hover = page.locator(".workbench-hover-container, .monaco-hover").filter({ hasText: "ports:" });
  await hover.first().waitFor();
  report("tooltip", { text: (await hover.first().innerText()).trim() });
  const box = await hover.first().boundingBox();
  const bar = await page.locator(".statusbar").boundingBox();
  const width = Math.min(bar.width, Math.max(box.x + box.width, 640) + 16);
  await page.screenshot({
    path: config.screenshot,
    clip: { x: 0, y: box.y - 8, width, height: bar.y + bar.height - box.y + 8 },
  });
  await page.mouse.move(700, 300);

  // Reset from the quick pick; the server asks first, and we say Reset.
  await page.locator(ITEM).click();
  const quickInput = page.locator(".quick-input-widget");
  await quickInput.locator(".monaco-list-row").filter({ hasText: "Reset" }).first().waitFor();
  report("menu", {
    items: (await quickInput.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  await quickInput.locator("input").fill("Reset");
  await page.keyboard.press("Enter");
  const question = toast(/Reset .*\?/).first();
  await question.waitFor();
  report("confirm", { text: (await question.locator(".notification-list-item-message").innerText()).trim() });
  await question.getByRole("button", { name: "Reset", exact: true }).click();
  const done = toast(/fresh database/).first();
  await done.waitFor();
  report("reset", { text: (await done.locator(".notification-list-item-message").innerText()).trim() });
  report("after", await itemWith(/✓/));

  // The palette's berth commands are the extension's: they act on the active
  // editor's folder (the migration's) and never end in "command not found".
  const palette = await paletteShowing(">berth: ", rowWith("Provision this worktree"));
  report("palette", {
    items: (await palette.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  await page.keyboard.press("Escape");
  await paletteRun("berth: Provision this worktree");
  const provisioned = toast(/ready \(/).first();
  await provisioned.waitFor();
  report("provisioned", {
    text: (await provisioned.locator(".notification-list-item-message").innerText()).trim(),
  });
  report("final", await itemWith(/✓/));

  // Open log: the client's own lines and the server's stderr, in one channel.
  await paletteRun("berth: Open log");
  const lines = page.locator(".part.panel .monaco-editor .view-lines");
  await lines.filter({ hasText: "[client" }).first().waitFor();
  // The channel is long (the server logs at info level): the panel's filter picks lines out.
  const filter = page.locator(".part.panel .viewpane-filter input");
  const found = {};
  for (const needle of ["[client", "INFO pygls"]) {
    await filter.fill(needle);
    const view = lines.filter({ hasText: needle }).first();
    await view.waitFor();
    found[needle] = (await view.innerText()).replace(/\u00a0/g, " ").trim();
  }
  report("log", { client: found["[client"], server: found["INFO pygls"] });

  // New migration…: the server writes the next file, named as the project's are,
  // and VS Code opens it; then the menu offers to preview what migrate would run.
  await page.locator(ITEM).click();
  await quickInput.locator(".monaco-list-row").filter({ hasText: "New migration" }).first().waitFor();
  await quickInput.locator("input").fill("New migration");
  await page.keyboard.press("Enter");
  await quickInput.filter({ hasText: "berth: new migration" }).waitFor();
  await quickInput.locator("input").fill(config.newMigration);
  await page.keyboard.press("Enter");
  const created = page.locator(".tabs-container .tab.active").filter({ hasText: config.newMigration });
  await created.waitFor();
  report("created", { tab: (await created.innerText()).trim() });
  await itemWith(/1 pending/);
  await page.locator(ITEM).click();
  await quickInput.locator(".monaco-list-row").filter({ hasText: "Preview pending SQL" }).first().waitFor();
  report("pendingMenu", {
    items: (await quickInput.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  // The picture of the menu for docs/editors.md, with a migration pending.
  const menuBox = await quickInput.boundingBox();
  await page.screenshot({
    path: config.menuShot,
    clip: { x: menuBox.x - 8, y: Math.max(0, menuBox.y - 8), width: menuBox.width + 16, height: menuBox.height + 16 },
  });
  await quickInput.locator("input").fill("Preview pending SQL");
  await page.keyboard.press("Enter");
  const preview = page.locator(".tabs-container .tab.active").filter({ hasText: "pending.sql" });
  await preview.waitFor();
  await page.locator(".monaco-editor .view-lines").filter({ hasText: config.newMigration }).first().waitFor();
  report("preview", { tab: (await preview.innerText()).trim() });
  await runBerths();
}

/** The rows of the Berths view whose aria-label starts with `prefix`. */
function berthsRows(prefix) {
  return page.locator(`.part.sidebar .monaco-list-row[aria-label^="${prefix}"]`);
}

// The Berths view: the worktree's berth (marked), a reset from the command line
// whose trash entry the view then lists, and Restore on it (after a modal).
async function runBerths() {
  const sidebar = page.locator(".part.sidebar");
  await paletteRun("berth: Focus on Berths View");
  const mine = berthsRows("berth feature/cart, this window");
  await mine.first().waitFor();
  const trash = berthsRows("trash entry ");
  await trash.first().waitFor();
  const before = await trash.count();
  report("berths", {
    rows: await sidebar.locator(".monaco-list-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label"))),
    berth: await mine.first().getAttribute("aria-label"),
    trash: before,
  });

  // A reset from the command line: the view lists its trash entry (on the
  // server's status notification, or the refresh button at the latest).
  execFileSync(config.berth[0], [...config.berth.slice(1), "reset", "--yes"], { cwd: config.worktree, stdio: "ignore" });
  await sidebar.locator('.actions-container [aria-label^="Refresh the berths view"]').first().click();
  await trash.nth(before).waitFor();
  const newest = await trash.first().getAttribute("aria-label");
  report("trashed", {
    count: await trash.count(),
    newest,
    labels: await trash.evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label"))),
  });

  // The picture of the view for docs/editors.md: the berths, their ports, the
  // trash; the side bar dragged wider by its sash, so the descriptions fit.
  let side = await sidebar.boundingBox();
  const edge = side.x + side.width;
  await page.mouse.move(edge, side.y + side.height / 2);
  await page.mouse.down();
  await page.mouse.move(edge + 160, side.y + side.height / 2, { steps: 8 });
  await page.mouse.up();
  // The newest trash entry under the pointer shows its inline Restore.
  await trash.first().hover();
  await page.waitForFunction((width) => document.querySelector(".part.sidebar").getBoundingClientRect().width > width, side.width + 100);
  await trash.first().locator('.actions-container [aria-label="Restore"]').waitFor();
  side = await sidebar.boundingBox();
  const rows = await sidebar.locator(".monaco-list-row").all();
  const last = await rows[rows.length - 1].boundingBox();
  const icon = await page.locator(".activitybar .action-item.checked").boundingBox();
  const bottom = Math.max(last.y + last.height, icon.y + icon.height) + 12;
  await page.screenshot({
    path: config.berthsShot,
    clip: { x: 0, y: side.y, width: side.x + side.width, height: Math.min(side.height, bottom - side.y) },
  });

  // Open app on the app port: VS Code opens the URL outside (a new tab here).
  const port = berthsRows("port app ").first();
  await port.hover();
  const popup = page.waitForEvent("popup", { timeout: 20_000 }).catch(() => undefined);
  await port.locator('.actions-container [aria-label="Open app"]').click();
  const opened = await popup;
  report("openApp", { url: opened?.url() ?? null });
  await opened?.close();

  // Restore the newest entry, the database the command line's reset replaced.
  const entry = trash.first();
  await entry.hover();
  await entry.locator('.actions-container [aria-label="Restore"]').click();
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor();
  report("restoreAsked", {
    text: (await dialog.locator(".dialog-message-text").innerText()).trim(),
    detail: (await dialog.locator(".dialog-message-detail").innerText()).trim(),
  });
  await dialog.getByRole("button", { name: "Restore", exact: true }).click();
  const restored = toast(/restored/).first();
  await restored.waitFor();
  report("restored", { text: (await restored.locator(".notification-list-item-message").innerText()).trim() });
  // The entry left the trash (and the database it replaced went there).
  const name = newest.split(" ")[2];
  await berthsRows(`trash entry ${name} `).waitFor({ state: "detached" });
  report("afterRestore", {
    labels: await trash.evaluateAll((rows) => rows.map((r) => r.getAttribute("aria-label"))),
  });
}

// No berth executable (berth.path names none): a red item whose quick pick
// offers to set berth.path or install berth.
async function runNoBerth() {
  await page.goto(config.url);
  await page.locator(".statusbar").waitFor();
  const item = page.locator(ITEM);
  await item.waitFor();
  report("status", { text: (await item.innerText()).trim() });
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } });
  await item.click();
  const quickInput = page.locator(".quick-input-widget");
  await quickInput.locator(".monaco-list-row").filter({ hasText: "Install berth" }).first().waitFor();
  report("menu", {
    items: (await quickInput.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  await quickInput.locator("input").fill("Install berth");
  await page.keyboard.press("Enter");
  await quickInput.locator(".monaco-list-row").filter({ hasText: "pipx install" }).first().waitFor();
  report("install", {
    items: (await quickInput.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  await page.keyboard.press("Enter");
  const copied = toast(/copied/).first();
  await copied.waitFor();
  report("copied", { text: (await copied.locator(".notification-list-item-message").innerText()).trim() });
  if (config.dormantUrl) await runDormant();
}

// A folder whose pyproject.toml has no [tool.berth]: VS Code activates the
// extension (workspaceContains:pyproject.toml), which stays dormant — no item,
// no berth commands in the palette — until a berth.toml appears.
async function runDormant() {
  await page.goto(config.dormantUrl);
  await page.locator(".statusbar").waitFor();
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } });
  await paletteRun("berth: Open log");
  const line = page.locator(".part.panel .monaco-editor .view-lines").filter({ hasText: "no berth here" });
  await line.first().waitFor();
  report("dormantLog", { text: (await line.first().innerText()).replace(/\u00a0/g, " ").trim() });
  const palette = await paletteShowing(">berth: ", rowWith("Open log"));
  report("dormant", {
    items: (await palette.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
    statusItems: await page.locator(ITEM).count(),
  });
  await page.keyboard.press("Escape");
  // A berth.toml wakes it: it starts berth lsp (here berth.path names no berth, so the red item).
  writeFileSync(join(config.dormantFolder, "berth.toml"), 'project = "plain"\n');
  await page.locator(ITEM).waitFor();
  report("awake", { text: (await page.locator(ITEM).innerText()).trim() });
}

// A multi-root workspace of two worktrees: the palette's Migrate acts on the
// active editor's folder (the second), and without an editor asks which one.
// config.migration is a pending migration of the second folder; config.pick the
// name of the folder to choose when asked; config.second the second berth's name.
async function runMultiRoot() {
  await page.goto(config.url);
  await page.locator(".statusbar").waitFor();
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } });
  await page.keyboard.press("Control+P");
  const file = config.migration.split("/").pop();
  await page.locator(".quick-input-widget input").fill(file);
  await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: file }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(".monaco-editor .view-lines").first().waitFor();
  // The item follows the active editor: the second folder's berth, not the first's.
  report("status", await itemWith(config.second));

  const palette = page.locator(".quick-input-widget");
  /** Run `category: title` from the command palette. */
  async function command(name) {
    await paletteShowing(`>${name}`, rowWith(name.slice(name.indexOf(": ") + 2)));
    await page.keyboard.press("Enter");
  }
  await command("berth: Apply pending migrations");
  const applied = toast(/applied/).first();
  await applied.waitFor();
  report("migrated", { text: (await applied.locator(".notification-list-item-message").innerText()).trim() });
  report("after", await itemWith(/✓/));

  // No editor: the item shows the first folder's berth, and the palette asks.
  await command("View: Close All Editors");
  const first = await itemWith(/pending/);
  await command("berth: Apply pending migrations");
  const pick = palette.locator(".monaco-list-row").filter({ hasText: config.pick });
  await pick.first().waitFor();
  report("pick", {
    placeholder: await palette.locator("input").getAttribute("placeholder"),
    items: (await palette.locator(".monaco-list-row .label-name").allInnerTexts()).map((t) => t.trim()),
  });
  await palette.locator("input").fill(config.pick);
  await page.keyboard.press("Enter");
  report("first", { before: first.text, ...(await itemWith(/✓/)) });
}

try {
  await ({ multiroot: runMultiRoot, noberth: runNoBerth }[config.mode] ?? run)();
} catch (error) {
  await page.screenshot({ path: config.failShot }).catch(() => {});
  report("error", { message: String(error?.message ?? error), failShot: config.failShot });
  process.exitCode = 1;
} finally {
  await browser.close();
}

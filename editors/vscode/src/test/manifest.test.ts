// The manifest is what the Marketplace and Open VSX publish: its fields are checked here.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.join(__dirname, "..", "..");
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

test("a real publisher, name, icon and licence", () => {
  assert.equal(manifest.publisher, "berth-env");
  assert.equal(manifest.name, "berth");
  assert.equal(manifest.license, "MIT");
  assert.ok(fs.existsSync(path.join(ROOT, "LICENSE")));
  assert.ok(fs.existsSync(path.join(ROOT, "README.md")));
  assert.equal(manifest.icon, "images/icon.png");
  const icon = fs.readFileSync(path.join(ROOT, manifest.icon));
  // A PNG (vsce refuses SVG icons) of 128x128: the IHDR chunk's width and height.
  assert.deepEqual([...icon.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(icon.toString("ascii", 12, 16), "IHDR");
  assert.deepEqual([icon.readUInt32BE(16), icon.readUInt32BE(20)], [128, 128]);
});

test("repository, homepage and bugs point at the berth repository", () => {
  assert.deepEqual(manifest.repository, {
    type: "git",
    url: "https://github.com/berth-env/berth.git",
    directory: "editors/vscode",
  });
  assert.match(manifest.homepage, /^https:\/\/github\.com\/berth-env\/berth\//);
  assert.equal(manifest.bugs.url, "https://github.com/berth-env/berth/issues");
});

test("honest categories and a few keywords", () => {
  assert.deepEqual(manifest.categories, ["Other"]);
  assert.ok(manifest.keywords.length > 0 && manifest.keywords.length <= 30);
  for (const keyword of ["berth", "postgres", "migrations", "git worktree"]) {
    assert.ok(manifest.keywords.includes(keyword), keyword);
  }
});

test("activation only where berth may be: never '*', never on startup", () => {
  assert.deepEqual(manifest.activationEvents, [
    "workspaceContains:berth.toml",
    "workspaceContains:.env.berth",
    "workspaceContains:pyproject.toml",
  ]);
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, false);
});

test("no proposed APIs, nothing vsce needs a flag for", () => {
  assert.equal(manifest.enabledApiProposals, undefined);
  assert.ok(!/--allow-|--no-/.test(manifest.scripts.package), manifest.scripts.package);
  assert.equal(manifest.scripts.package, "vsce package --out berth.vsix");
  // Open VSX publishing is a documented script, run by hand with OVSX_PAT set.
  assert.match(manifest.scripts["publish:ovsx"], /^npx --yes ovsx@\d+\.\d+\.\d+ publish berth\.vsix$/);
  assert.equal(manifest.engines.vscode, "^1.82.0");
  assert.equal(manifest.dependencies["vscode-languageclient"], "9.0.1");
});

test("commands that need a berth are hidden from the palette where there is none", () => {
  const always = new Set(["berth.showMenu", "berth.openLog", "berth.restartServer", "berth.setPath", "berth.install"]);
  // The view's actions on one of its items: never in the palette.
  const itemOnly = new Set(["berth.openApp", "berth.restoreTrash"]);
  const palette: { command: string; when: string }[] = manifest.contributes.menus.commandPalette;
  const hidden = new Map(palette.map((entry) => [entry.command, entry.when]));
  for (const { command } of manifest.contributes.commands) {
    const expected = always.has(command) ? undefined : itemOnly.has(command) ? "false" : "berth.active";
    assert.equal(hidden.get(command), expected, command);
  }
});

test("the Berths view: its own container with berth's icon, only where berth is active", () => {
  const { viewsContainers, views, menus } = manifest.contributes;
  assert.deepEqual(viewsContainers.activitybar, [{ id: "berth", title: "berth", icon: "images/berth.svg" }]);
  const icon = fs.readFileSync(path.join(ROOT, "images", "berth.svg"), "utf8");
  assert.match(icon, /^<svg [^>]*viewBox="0 0 24 24"/);
  assert.deepEqual(
    views.berth.map((v: { id: string; name: string; when: string }) => [v.id, v.name, v.when]),
    [["berth.berths", "Berths", "berth.active"]],
  );
  assert.deepEqual(menus["view/title"], [
    { command: "berth.refreshBerths", when: "view == berth.berths", group: "navigation" },
  ]);
  // Inline: Open app on a port, Restore on a trash entry (and the same in the context menu).
  const inline = menus["view/item/context"].filter((m: { group: string }) => m.group === "inline");
  assert.deepEqual(
    inline.map((m: { command: string; when: string }) => [m.command, m.when]),
    [
      ["berth.openApp", "view == berth.berths && viewItem == berth.port"],
      ["berth.restoreTrash", "view == berth.berths && viewItem == berth.trash"],
    ],
  );
  const titled = new Map(manifest.contributes.commands.map((c: { command: string; title: string }) => [c.command, c.title]));
  assert.equal(titled.get("berth.openApp"), "Open app");
  assert.equal(titled.get("berth.restoreTrash"), "Restore");
});

test("the packaged files: the compiled extension and its icon, no sources or tests", () => {
  const ignore = fs.readFileSync(path.join(ROOT, ".vscodeignore"), "utf8").split("\n");
  for (const pattern of ["src/**", "out/test/**", "**/*.ts", "*.vsix"]) {
    assert.ok(ignore.includes(pattern), pattern);
  }
  assert.ok(!ignore.some((p) => p.startsWith("images")), "the icon is packaged");
});

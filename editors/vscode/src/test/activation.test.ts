import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { berthMarker, type FolderProbe, gitDirOf, pyprojectHasBerth } from "../activation";

/** A folder of `files` (path -> text; a directory is a path ending in `/`). */
function folder(files: Record<string, string>): FolderProbe {
  return {
    exists: (name) => name in files || `${name}/` in files,
    read: (name) => files[name],
  };
}

const PLAIN_PYPROJECT = '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n';
const BERTH_PYPROJECT = '[project]\nname = "shop"\n\n[tool.berth]\nproject = "shop"\n';

test("berth.toml or .env.berth make a folder berth's", () => {
  assert.equal(berthMarker(folder({ "berth.toml": "" })), "berth.toml");
  assert.equal(berthMarker(folder({ ".env.berth": "DATABASE_URL=x" })), ".env.berth");
});

test("a pyproject.toml without [tool.berth] leaves the extension dormant", () => {
  assert.equal(berthMarker(folder({ "pyproject.toml": PLAIN_PYPROJECT, ".git/": "" })), undefined);
  assert.equal(berthMarker(folder({})), undefined);
});

test("a pyproject.toml with [tool.berth] starts it", () => {
  assert.equal(berthMarker(folder({ "pyproject.toml": BERTH_PYPROJECT })), "pyproject.toml [tool.berth]");
});

test("a worktree with a berth (berth.json in its git dir) starts it, [tool.berth] or not", () => {
  const main = folder({ "pyproject.toml": PLAIN_PYPROJECT, ".git/": "", ".git/berth.json": "{}" });
  assert.equal(berthMarker(main), "a berth (berth.json)");
  const linked = folder({
    ".git": "gitdir: /repo/.git/worktrees/shop-cart\n",
    "/repo/.git/worktrees/shop-cart/berth.json": "{}",
  });
  assert.equal(gitDirOf(linked), "/repo/.git/worktrees/shop-cart");
  assert.equal(berthMarker(linked), "a berth (berth.json)");
  assert.equal(berthMarker(folder({ ".git": "gitdir: /repo/.git/worktrees/other\n" })), undefined);
});

test("[tool.berth] is found however TOML spells it", () => {
  for (const text of [
    "[tool.berth]\n",
    "[tool.berth.ports]\napp = 8011\n",
    '[ tool . "berth" ]\n',
    "[tool]\nberth.project = 'shop'\n",
    "[tool]\nberth = { project = 'shop' }\n",
    'tool.berth.project = "shop"\n',
    "[tool.berth] # berth's own table\n",
  ]) {
    assert.ok(pyprojectHasBerth(text), text);
  }
  for (const text of [
    PLAIN_PYPROJECT,
    "[tool.berthing]\n",
    "# [tool.berth]\n",
    '[project]\ndescription = "uses [tool.berth]"\n',
    "[tool.ruff]\nberth = 1\n",
    "[tool]\nberthing = 1\n",
  ]) {
    assert.ok(!pyprojectHasBerth(text), text);
  }
});

test("the files on disk: a real linked worktree's .git file", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "berth-activation-"));
  try {
    const gitDir = path.join(root, "repo", ".git", "worktrees", "wt");
    const worktree = path.join(root, "wt");
    fs.mkdirSync(gitDir, { recursive: true });
    fs.mkdirSync(worktree);
    fs.writeFileSync(path.join(worktree, ".git"), `gitdir: ${gitDir}\n`);
    fs.writeFileSync(path.join(worktree, "pyproject.toml"), PLAIN_PYPROJECT);
    const probe: FolderProbe = {
      exists: (name) => fs.existsSync(path.resolve(worktree, name)),
      read: (name) => {
        const file = path.resolve(worktree, name);
        return fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file, "utf8") : undefined;
      },
    };
    assert.equal(berthMarker(probe), undefined);
    fs.writeFileSync(path.join(gitDir, "berth.json"), "{}");
    assert.equal(berthMarker(probe), "a berth (berth.json)");
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

import * as assert from "node:assert/strict";
import { test } from "node:test";

import { resolveBerthPath } from "../berthPath";
import { INSTALL_COMMANDS, menuItems, plural } from "../menu";
import type { BerthStatus } from "../status";

const ready = {
  folder: "file:///w",
  state: "ready",
  instance: "1a2b3c4d",
  project: "shop",
  worktree: "/w",
  database: { name: "shop_w_1a2b3c4d", url: "postgresql://u:****@h/d" },
  databaseUrl: null,
  ports: {},
  template: null,
  baseline: null,
  migrations: { applied: 1, pending: 2, edited: 0, missing: 0, state: "pending" },
  server: { state: "running", kind: "embedded" },
  app: { health: "unknown" },
  message: null,
  error: null,
} satisfies BerthStatus;

test("a berth offers every action, reset first", () => {
  const items = menuItems(ready);
  assert.deepEqual(
    items.map((i) => i.command),
    [
      "berth.resetDatabase",
      "berth.applyMigrations",
      "berth.provisionWorktree",
      "berth.forkFromMain",
      "berth.snapshotAs",
      "berth.copyUrl",
      "berth.openLog",
    ],
  );
  assert.equal(items[1].description, "apply 2 pending migrations");
});

test("the main checkout is never offered a reset", () => {
  const items = menuItems({ ...ready, state: "unmanaged" });
  assert.deepEqual(items.map((i) => i.command), ["berth.openLog"]);
});

test("a worktree without a berth is offered provisioning", () => {
  assert.deepEqual(menuItems(undefined).map((i) => i.command), ["berth.provisionWorktree", "berth.openLog"]);
});

test("berth.path wins, then the workspace's .venv, then PATH", () => {
  const venv = new Set(["/b/.venv/bin/berth"]);
  const exists = (file: string): boolean => venv.has(file);
  assert.equal(resolveBerthPath(" /opt/berth ", ["/a", "/b"], exists), "/opt/berth");
  assert.equal(resolveBerthPath("", ["/a", "/b"], exists), "/b/.venv/bin/berth");
  assert.equal(resolveBerthPath("", ["/a"], exists), "berth");
});

test("Migrate is offered only while migrations are pending", () => {
  const applied = { ...ready, migrations: { applied: 3, pending: 0, edited: 0, missing: 0, state: "ok" as const } };
  assert.ok(!menuItems(applied).some((i) => i.command === "berth.applyMigrations"));
  const edited = { ...ready, migrations: { applied: 3, pending: 0, edited: 1, missing: 0, state: "edited" as const } };
  assert.ok(!menuItems(edited).some((i) => i.command === "berth.applyMigrations"));
});

test("with berth's server down the menu starts it instead of migrating", () => {
  const unknown = { applied: null, pending: null, edited: null, missing: null, state: "unknown" as const };
  const down = { ...ready, migrations: unknown, server: { state: "down" as const, kind: "embedded" as const } };
  const commands = menuItems(down).map((i) => i.command);
  assert.equal(commands[1], "berth.startPostgres");
  assert.ok(!commands.includes("berth.applyMigrations"));
  // An external server is not berth's to start.
  const external = { ...down, server: { state: "down" as const, kind: "external" as const } };
  assert.ok(!menuItems(external).some((i) => i.command === "berth.startPostgres"));
  assert.ok(!menuItems(ready).some((i) => i.command === "berth.startPostgres"));
});

test("without a berth executable the menu sets berth.path or installs berth", () => {
  const items = menuItems(undefined, true);
  assert.deepEqual(items.map((i) => i.command), ["berth.setPath", "berth.install", "berth.openLog"]);
  assert.equal(items[0].label, "$(gear) Set berth.path…");
  assert.match(items[1].description, /pipx install berth-env/);
  assert.deepEqual([...INSTALL_COMMANDS], ["pipx install berth-env", "uv tool install berth-env", "pip install berth-env"]);
});

test("one migration is singular", () => {
  const one = { ...ready, migrations: { ...ready.migrations, pending: 1 } };
  assert.equal(menuItems(one)[1].description, "apply 1 pending migration");
  assert.equal(plural(1, "migration"), "1 migration");
  assert.equal(plural(0, "migration"), "0 migrations");
});

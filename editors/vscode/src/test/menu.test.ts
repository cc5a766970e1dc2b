import * as assert from "node:assert/strict";
import { test } from "node:test";

import { resolveBerthPath } from "../berthPath";
import { menuItems } from "../menu";
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

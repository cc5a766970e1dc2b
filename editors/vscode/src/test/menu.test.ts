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

const SERVER_CONTROL = ["berth.restartServer", "berth.stopLanguageServer", "berth.openLog"];

test("a berth offers every action, reset first, the language server's last", () => {
  const items = menuItems(ready);
  assert.deepEqual(
    items.map((i) => i.command),
    [
      "berth.resetDatabase",
      "berth.applyMigrations",
      "berth.previewSql",
      "berth.createMigration",
      "berth.schemaDiff",
      "berth.openPsql",
      "berth.provisionWorktree",
      "berth.forkFromMain",
      "berth.snapshotAs",
      "berth.copyUrl",
      "berth.stopPostgres",
      ...SERVER_CONTROL,
    ],
  );
  assert.equal(items[1].description, "apply 2 pending migrations");
  assert.equal(items[2].label, "$(eye) Preview pending SQL");
  assert.equal(items[3].label, "$(new-file) New migration…");
  assert.deepEqual(
    items.slice(-3).map((i) => i.label),
    ["$(refresh) Restart language server", "$(debug-stop) Stop language server", "$(output) Open log"],
  );
});

test("the main checkout is never offered a reset", () => {
  const items = menuItems({ ...ready, state: "unmanaged" });
  assert.deepEqual(items.map((i) => i.command), SERVER_CONTROL);
});

test("a worktree without a berth is offered provisioning", () => {
  assert.deepEqual(menuItems(undefined).map((i) => i.command), ["berth.provisionWorktree", ...SERVER_CONTROL]);
});

test("a stopped language server is offered a start, nothing that needs it", () => {
  const items = menuItems(undefined, { stopped: true });
  assert.deepEqual(items.map((i) => i.command), ["berth.restartServer", "berth.openLog"]);
  assert.equal(items[0].label, "$(debug-start) Start language server");
});

test("Preview pending SQL only while migrations are pending", () => {
  const applied = { ...ready, migrations: { applied: 3, pending: 0, edited: 0, missing: 0, state: "ok" as const } };
  const commands = menuItems(applied).map((i) => i.command);
  assert.ok(!commands.includes("berth.previewSql"));
  // A new migration, a diff and psql need no pending migration.
  for (const command of ["berth.createMigration", "berth.schemaDiff", "berth.openPsql"]) {
    assert.ok(commands.includes(command), command);
  }
});

test("Stop Postgres only while berth's own server runs", () => {
  const has = (status: BerthStatus): boolean => menuItems(status).some((i) => i.command === "berth.stopPostgres");
  assert.ok(has(ready));
  assert.ok(!has({ ...ready, server: { state: "running", kind: "external" } }));
  assert.ok(!has({ ...ready, server: { state: "down", kind: "embedded" } }));
  assert.ok(!has({ ...ready, server: { state: "unknown", kind: null } }));
});

test("SQLTools and Database Client are offered when installed, before the server's controls", () => {
  const commands = (o: object): string[] => menuItems(ready, o).map((i) => i.command);
  assert.ok(!commands({}).includes("berth.connectSqltools"));
  assert.ok(!commands({}).includes("berth.connectDatabaseClient"));
  const both = commands({ sqltools: true, databaseClient: true });
  const at = both.indexOf("berth.connectSqltools");
  assert.deepEqual(both.slice(at, at + 3), ["berth.connectSqltools", "berth.connectDatabaseClient", "berth.stopPostgres"]);
  assert.deepEqual(commands({ databaseClient: true }).filter((c) => c.startsWith("berth.connect")), [
    "berth.connectDatabaseClient",
  ]);
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
  // Nothing to diff or connect psql to while it is down; a migration file can still be written.
  assert.ok(!commands.includes("berth.schemaDiff"));
  assert.ok(!commands.includes("berth.openPsql"));
  assert.ok(!commands.includes("berth.stopPostgres"));
  assert.ok(commands.includes("berth.createMigration"));
  // An external server is not berth's to start.
  const external = { ...down, server: { state: "down" as const, kind: "external" as const } };
  assert.ok(!menuItems(external).some((i) => i.command === "berth.startPostgres"));
  assert.ok(!menuItems(ready).some((i) => i.command === "berth.startPostgres"));
});

test("without a berth executable the menu sets berth.path or installs berth", () => {
  const items = menuItems(undefined, { cannotStart: true });
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

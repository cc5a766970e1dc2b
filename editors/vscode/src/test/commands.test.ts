import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import {
  commandFolder,
  defaultSnapshotName,
  FOLDER_COMMANDS,
  isDocumentResult,
  migrationNameError,
  psqlTerminal,
  SERVER_ARGS,
  snapshotNameError,
} from "../commands";
import { menuItems } from "../menu";

const a = { name: "shop-a", uri: "file:///w/shop-a" };
const b = { name: "shop-b", uri: "file:///w/shop-b" };

test("a command acts on the active editor's folder, not the first one", () => {
  assert.deepEqual(commandFolder(b, [a, b]), { folder: b });
  assert.deepEqual(commandFolder(a, [a, b]), { folder: a });
});

test("without an active editor: the only folder, else the user picks", () => {
  assert.deepEqual(commandFolder(undefined, [a]), { folder: a });
  assert.deepEqual(commandFolder(undefined, [a, b]), { pick: [a, b] });
  assert.equal(commandFolder(undefined, []), undefined);
});

test("snapshot names follow the server's rule", () => {
  for (const good of ["demo", "demo-data", "v1.2_rc", "0day", "a".repeat(40), " padded "]) {
    assert.equal(snapshotNameError(good), undefined, good);
  }
  for (const bad of ["", "-demo", ".hidden", "_x", "a".repeat(41), "with space", "naïve", "a/b"]) {
    assert.equal(
      snapshotNameError(bad),
      "use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
      bad,
    );
  }
});

// The palette must not offer the server's own commands (they act on the first
// folder when called without one): every berth command there is the extension's.
test("the palette and the menu offer the extension's commands, each registered", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);
  const server = new Set(Object.values(FOLDER_COMMANDS));
  assert.deepEqual(contributed.filter((c) => server.has(c)), []);
  for (const command of Object.keys(FOLDER_COMMANDS)) {
    assert.ok(contributed.includes(command), command);
  }
  const unknown = { applied: null, pending: null, edited: null, missing: null, state: "unknown" as const };
  const menus = [
    menuItems({ ...readyStatus(), migrations: { ...readyStatus().migrations, pending: 1, state: "pending" } }),
    menuItems({ ...readyStatus(), migrations: unknown, server: { state: "down", kind: "embedded" } }),
    menuItems(undefined, { cannotStart: true }),
    menuItems(readyStatus(), { sqltools: true, databaseClient: true }),
    menuItems(undefined, { stopped: true }),
  ];
  for (const item of menus.flat()) {
    assert.ok(contributed.includes(item.command), item.command);
  }
  // The extension's own commands, and the Berths view's.
  const source = ["extension.ts", "berthsView.ts"]
    .map((file) => fs.readFileSync(path.join(__dirname, "..", "..", "src", file), "utf8"))
    .join("\n");
  for (const command of contributed.filter((c) => !(c in FOLDER_COMMANDS))) {
    assert.ok(source.includes(`registerCommand("${command}"`), `${command} is registered`);
  }
});

function readyStatus() {
  return {
    folder: "file:///w/shop-a",
    state: "ready" as const,
    instance: "1a2b3c4d",
    project: "shop",
    worktree: "/w/shop-a",
    database: { name: "shop_a_1a2b3c4d", url: "postgresql://u:****@h/d" },
    databaseUrl: null,
    ports: {},
    template: null,
    baseline: null,
    migrations: { applied: 1, pending: 0, edited: 0, missing: 0, state: "ok" as const },
    server: { state: "running" as const, kind: "embedded" as const },
    app: { health: "unknown" as const },
    message: null,
    error: null,
  };
}

test("the snapshot prompt proposes the server's name: <branch slug>_<date>_<time>", () => {
  const now = new Date(2026, 10, 20, 9, 5);
  assert.equal(defaultSnapshotName("feature/Cart", now), "feature_cart_20261120_0905");
  assert.equal(defaultSnapshotName(null, now), "berth_20261120_0905");
  const long = defaultSnapshotName("feature/" + "x".repeat(60), now);
  assert.equal(snapshotNameError(long), undefined, long);
  assert.ok(long.endsWith("_20261120_0905"));
});

test("the server logs at info level, into the output channel", () => {
  assert.deepEqual([...SERVER_ARGS], ["lsp", "--log-level", "info"]);
  // The extension's own commands, and the Berths view's.
  const source = ["extension.ts", "berthsView.ts"]
    .map((file) => fs.readFileSync(path.join(__dirname, "..", "..", "src", file), "utf8"))
    .join("\n");
  assert.ok(source.includes("traceOutputChannel: output"));
});

test("a new migration's name: anything but a path; the server names the file", () => {
  for (const good of ["add_orders", "Add orders", "0003 fix", " padded "]) {
    assert.equal(migrationNameError(good), undefined, good);
  }
  assert.equal(migrationNameError("  "), "name the migration, e.g. add_orders");
  assert.equal(migrationNameError("db/x"), "a name, not a path: no '/' or '\\'");
  assert.equal(migrationNameError("a\\b"), "a name, not a path: no '/' or '\\'");
  assert.equal(migrationNameError("x".repeat(101)), "at most 100 characters");
});

test("Open psql runs `berth psql` in the worktree, with the berth the extension starts", () => {
  assert.deepEqual(psqlTerminal("/w/shop-a", "/w/shop-a/.venv/bin/berth", "shop_a_1a2b3c4d"), {
    name: "psql shop_a_1a2b3c4d",
    cwd: "/w/shop-a",
    shellPath: "/w/shop-a/.venv/bin/berth",
    shellArgs: ["psql"],
  });
  assert.equal(psqlTerminal("/w", "berth", null).name, "psql berth");
});

test("a file a server command wrote is opened from its uri", () => {
  const wrote = { path: "/w/db/migrations/0004_x.sql", uri: "file:///w/db/migrations/0004_x.sql" };
  assert.ok(isDocumentResult(wrote));
  assert.ok(isDocumentResult({ ...wrote, pending: 2 }));
  for (const other of [null, undefined, "x", { path: "/x" }, { uri: 3, path: "/x" }]) {
    assert.ok(!isDocumentResult(other), JSON.stringify(other));
  }
});

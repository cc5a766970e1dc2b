import * as assert from "node:assert/strict";
import { test } from "node:test";

import {
  type BerthsNode,
  type BerthsResult,
  berthsTree,
  foldersToList,
  isBerthsResult,
  portUrl,
  restoreQuestion,
  size,
  when,
} from "../berths";

const FOLDER = "file:///w/shop-cart";
// 2026-11-20 14:02 local time, whatever the machine's zone.
const AT = new Date(2026, 10, 20, 14, 2, 30).getTime() / 1000;

/** What `berth.berths` answers for a project of two berths, one reset once. */
function listing(): BerthsResult {
  return {
    project: "shop",
    berths: [
      {
        instance: "1a2b3c4d",
        state: "active",
        slot: 1,
        database: "shop_feature_cart_1a2b3c4d",
        ports: { vite: 5174, app: 8012 },
        branch: "feature/cart",
        worktree: "/w/shop-cart",
        worktree_exists: true,
        app: {
          running: true,
          processes: [{ pid: 4242, command: "npm run dev" }],
          health: { url: "http://127.0.0.1:8012/health", state: "ok", status: 200, error: null },
        },
      },
      {
        instance: "5e6f7a8b",
        state: "active",
        slot: 2,
        database: "shop_fix_login_5e6f7a8b",
        ports: { app: 8022 },
        branch: "fix/login",
        worktree: "/w/shop-login",
        worktree_exists: false,
        app: { running: false, processes: [], health: null },
      },
    ],
    trash: [
      { name: "berth_trash_1a2b3c4d_100", instance: "1a2b3c4d", original: "shop_feature_cart_1a2b3c4d", trashed_at: AT - 3600, reason: "reset" },
      { name: "berth_trash_1a2b3c4d_200", instance: "1a2b3c4d", original: "shop_feature_cart_1a2b3c4d", trashed_at: AT, reason: "fork" },
      { name: "berth_trash_99999999_1", instance: "99999999", original: "shop_gone_99999999", trashed_at: AT - 60, reason: null },
    ],
    baselines: [{ name: "demo", database: "berth_base_shop_demo", fingerprint: "abcdef0123456789", created: AT }],
    templates: [{ name: "berth_tpl_shop_3039ee28aa55eeb3", fingerprint: "3039ee28aa55eeb3ffff", steps: 3, created: AT, size: 7_665_343 }],
    server: "up",
  };
}

function find(nodes: readonly BerthsNode[], label: string): BerthsNode {
  const found = nodes.find((n) => n.label === label);
  assert.ok(found, `${label} in ${nodes.map((n) => n.label).join(", ")}`);
  return found;
}

test("one project: its four groups at the top, with counts", () => {
  const roots = berthsTree([{ folder: FOLDER, data: listing() }], ["/w/shop-cart/"]);
  assert.deepEqual(
    roots.map((n) => [n.label, n.description, n.expanded]),
    [
      ["Berths", "2", true],
      ["Trash", "3", true],
      ["Baselines", "1", true],
      ["Templates", "1", true],
    ],
  );
  assert.ok(roots.every((n) => n.kind === "group" && n.folder === FOLDER));
});

test("the window's berth is marked and expanded; health, ports and processes from its row", () => {
  const [berthsGroup] = berthsTree([{ folder: FOLDER, data: listing() }], ["/w/shop-cart"]);
  const cart = find(berthsGroup.children, "feature/cart");
  assert.equal(cart.description, "this window · :8012 · running · health ok");
  assert.equal(cart.contextValue, "berth.berth.current");
  assert.equal(cart.icon, "star-full");
  assert.equal(cart.iconColor, "charts.green");
  assert.ok(cart.expanded);
  // Ports lowest first, each with the URL Open app opens; then the app's processes.
  assert.deepEqual(
    cart.children.map((n) => [n.kind, n.label, n.description, n.contextValue, n.url]),
    [
      ["port", "vite", "http://127.0.0.1:5174", "berth.port", "http://127.0.0.1:5174"],
      ["port", "app", "http://127.0.0.1:8012 · health ok", "berth.port", "http://127.0.0.1:8012"],
      ["process", "pid 4242", "npm run dev", "berth.process", undefined],
    ],
  );
  assert.ok(cart.tooltip.includes("health: ok (HTTP 200) — http://127.0.0.1:8012/health"), cart.tooltip.join("\n"));

  const login = find(berthsGroup.children, "fix/login");
  assert.equal(login.description, ":8022 · worktree gone");
  assert.equal(login.contextValue, "berth.berth");
  assert.equal(login.icon, "database");
  assert.equal(login.iconColor, undefined);
  assert.ok(!login.expanded);
  assert.ok(login.tooltip.includes("worktree: /w/shop-login (gone)"));
});

test("a failing health probe colours the berth red", () => {
  const data = listing();
  data.berths[0].app = { running: false, health: { state: "down", error: "Connection refused" } };
  const [group] = berthsTree([{ folder: FOLDER, data }], []);
  const cart = find(group.children, "feature/cart");
  assert.equal(cart.iconColor, "charts.red");
  assert.equal(cart.description, ":8012 · health down");
  assert.ok(cart.tooltip.includes("health: down (Connection refused)"));
});

test("the trash, newest first, named by branch, with what Restore needs", () => {
  const [, trash] = berthsTree([{ folder: FOLDER, data: listing() }], []);
  assert.deepEqual(
    trash.children.map((n) => [n.label, n.description, n.trash, n.contextValue]),
    [
      ["feature/cart", "fork · 2026-11-20 14:02:30", "berth_trash_1a2b3c4d_200", "berth.trash"],
      // A berth the listing no longer has: the database it was.
      ["shop_gone_99999999", "trashed · 2026-11-20 14:01:30", "berth_trash_99999999_1", "berth.trash"],
      ["feature/cart", "reset · 2026-11-20 13:02:30", "berth_trash_1a2b3c4d_100", "berth.trash"],
    ],
  );
  const newest = trash.children[0];
  assert.equal(newest.original, "shop_feature_cart_1a2b3c4d");
  assert.equal(newest.folder, FOLDER);
  // The screen reader (and the end-to-end test) can tell entries apart.
  assert.match(newest.aria, /^trash entry berth_trash_1a2b3c4d_200 of shop_feature_cart_1a2b3c4d/);
  const question = restoreQuestion(newest);
  assert.equal(question.message, "Restore shop_feature_cart_1a2b3c4d from the trash?");
  assert.match(question.detail, /^berth_trash_1a2b3c4d_200 \(fork · .*\) becomes the berth's database again; the current one goes to the trash/);
});

test("baselines and templates", () => {
  const [, , baselines, templates] = berthsTree([{ folder: FOLDER, data: listing() }], []);
  assert.deepEqual(
    baselines.children.map((n) => [n.label, n.description]),
    [["demo", "2026-11-20 14:02 · abcdef012345"]],
  );
  assert.ok(baselines.children[0].tooltip.includes("New berths start from it with `berth up --baseline demo`."));
  assert.deepEqual(
    templates.children.map((n) => [n.label, n.description]),
    [["3039ee28aa55", "3 migrations · 7.7 MB · 2026-11-20 14:02"]],
  );
});

test("empty groups say so and have nothing to expand", () => {
  const data = { ...listing(), berths: [], trash: [], baselines: [], templates: [] };
  const roots = berthsTree([{ folder: FOLDER, data }], []);
  assert.deepEqual(
    roots.map((n) => [n.label, n.description, n.expanded, n.children.length]),
    [
      ["Berths", "none", false, 0],
      ["Trash", "empty", false, 0],
      ["Baselines", "none", false, 0],
      ["Templates", "none", false, 0],
    ],
  );
});

test("with the server down, baselines and templates are unknown, not none", () => {
  const data: BerthsResult = { ...listing(), baselines: [], templates: [], server: "down" };
  const [, , baselines, templates] = berthsTree([{ folder: FOLDER, data }], []);
  for (const group of [baselines, templates]) {
    assert.equal(group.description, "server down");
    assert.deepEqual(group.children.map((n) => [n.kind, n.label]), [["note", "server down"]]);
  }
  assert.notEqual(baselines.children[0].id, templates.children[0].id);
});

test("several projects: a node each, ids never shared", () => {
  const other = { ...listing(), project: "blog" };
  const roots = berthsTree(
    [
      { folder: FOLDER, data: listing() },
      { folder: "file:///w/blog", data: other },
    ],
    [],
  );
  assert.deepEqual(
    roots.map((n) => [n.kind, n.label, n.description, n.folder]),
    [
      ["project", "shop", "2 berths", FOLDER],
      ["project", "blog", "2 berths", "file:///w/blog"],
    ],
  );
  const ids: string[] = [];
  const walk = (nodes: readonly BerthsNode[]): void => {
    for (const node of nodes) {
      ids.push(node.id);
      walk(node.children);
    }
  };
  walk(roots);
  assert.equal(new Set(ids).size, ids.length);
});

test("one folder per project is asked; unknown and broken folders are not", () => {
  const status: Record<string, { state: string; project: string | null }> = {
    a: { state: "ready", project: "shop" },
    b: { state: "ready", project: "shop" },
    c: { state: "error", project: "blog" },
    d: { state: "none", project: "blog" },
    f: { state: "unmanaged", project: null },
  };
  assert.deepEqual(
    foldersToList(["a", "b", "c", "d", "e", "f"], (f) => status[f]),
    ["a", "d"],
  );
});

test("helpers: URLs, times, sizes, results", () => {
  assert.equal(portUrl(8012), "http://127.0.0.1:8012");
  assert.equal(when(AT), "2026-11-20 14:02");
  assert.equal(when(AT, true), "2026-11-20 14:02:30");
  assert.equal(when(null), "");
  assert.equal(size(512), "512 B");
  assert.equal(size(7_665_343), "7.7 MB");
  assert.equal(size(undefined), "");
  assert.ok(isBerthsResult(listing()));
  assert.ok(!isBerthsResult(null));
  assert.ok(!isBerthsResult({ project: "shop" }));
});

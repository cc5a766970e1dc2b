import * as assert from "node:assert/strict";
import { test } from "node:test";

import {
  type BerthStatus,
  berthName,
  mainPort,
  maskUrl,
  statusLogLine,
  statusText,
  statusTone,
  tooltipLines,
} from "../status";

function status(overrides: Partial<BerthStatus> = {}): BerthStatus {
  return {
    folder: "file:///src/shop-cart",
    state: "ready",
    instance: "1a2b3c4d",
    project: "shop",
    worktree: "/src/shop-cart",
    database: {
      name: "shop_feature_cart_1a2b3c4d",
      url: "postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/shop_feature_cart_1a2b3c4d",
    },
    databaseUrl: "postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/shop_feature_cart_1a2b3c4d",
    ports: { app: 8012, vite: 5174 },
    template: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    baseline: null,
    migrations: { applied: 12, pending: 0, edited: 0, missing: 0, state: "ok" },
    server: { state: "running", kind: "embedded" },
    app: { health: "unknown" },
    message: null,
    error: null,
    ...overrides,
  };
}

test("a ready berth reads <project>_<slug> :<port> ✓", () => {
  assert.equal(statusText(status()), "$(database) shop_feature_cart :8012 ✓");
  assert.equal(statusTone(status()), "ok");
});

test("pending migrations are counted and colour the item as a warning", () => {
  const s = status({ migrations: { applied: 10, pending: 2, edited: 0, missing: 0, state: "pending" } });
  assert.equal(statusText(s), "$(database) shop_feature_cart :8012 ⚠ 2 pending");
  assert.equal(statusTone(s), "warning");
});

test("a migration edited after apply is an error", () => {
  const s = status({ migrations: { applied: 12, pending: 0, edited: 1, missing: 0, state: "edited" } });
  assert.equal(statusText(s), "$(database) shop_feature_cart :8012 ✗ 1 edited");
  assert.equal(statusTone(s), "error");
});

test("migrations applied but not on this branch", () => {
  const s = status({ migrations: { applied: 13, pending: 0, edited: 0, missing: 1, state: "ahead" } });
  assert.equal(statusText(s), "$(database) shop_feature_cart :8012 ⚠ 1 not on this branch");
});

test("provisioning spins", () => {
  const s = status({ state: "provisioning", database: null, instance: null });
  assert.equal(statusText(s), "$(sync~spin) shop provisioning…");
  assert.equal(statusTone(s), "busy");
});

test("a down server wins over migrations", () => {
  const s = status({ server: { state: "down", kind: "embedded" } });
  assert.equal(statusText(s), "$(database) shop_feature_cart :8012 ✗ server down");
  assert.equal(statusTone(s), "error");
});

test("a down server leaves the migrations unknown, not 0 applied", () => {
  const unknown = { applied: null, pending: null, edited: null, missing: null, state: "unknown" as const };
  const s = status({ migrations: unknown, server: { state: "down", kind: "embedded" } });
  assert.equal(statusText(s), "$(database) shop_feature_cart :8012 ✗ server down");
  assert.ok(tooltipLines(s, false).includes("migrations: unknown (server down)"));
  assert.equal(statusText(status({ state: "none", migrations: unknown, server: { state: "unknown", kind: null } })), "$(database) no berth");
});

test("the main checkout and worktrees without a berth are dim", () => {
  assert.equal(statusText(status({ state: "unmanaged" })), "$(database) main checkout");
  assert.equal(statusText(status({ state: "none", database: null })), "$(database) no berth");
  assert.equal(statusTone(status({ state: "none" })), "idle");
});

test("errors show their first line, shortened", () => {
  const s = status({ state: "error", error: "server unreachable at 127.0.0.1:55432 after three attempts\nmore" });
  assert.equal(statusText(s), "$(error) berth: server unreachable at 127.0.0.1:55432 a…");
  assert.equal(statusTone(s), "error");
});

test("the slug keeps underscores of the branch and drops only the id", () => {
  assert.equal(berthName(status({ database: { name: "shop_a_b_1a2b3c4d", url: "" } })), "shop_a_b");
  assert.equal(berthName(status({ instance: null, database: { name: "shop", url: "" } })), "shop");
});

test("the main port is app, else the lowest", () => {
  assert.equal(mainPort({ vite: 5174, app: 8012 }), 8012);
  assert.equal(mainPort({ web: 3001, vite: 5174 }), 3001);
  assert.equal(mainPort({}), undefined);
  assert.equal(statusText(status({ ports: {} })), "$(database) shop_feature_cart ✓");
});

test("passwords never reach the tooltip unless asked for", () => {
  const url = "postgresql://berth_1a2b3c4d:s3cr%40t@127.0.0.1:55432/shop_x_1a2b3c4d";
  assert.equal(maskUrl(url), "postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/shop_x_1a2b3c4d");
  assert.equal(maskUrl("postgresql://127.0.0.1/db"), "postgresql://127.0.0.1/db");
  const hidden = tooltipLines(status({ databaseUrl: url }), false).join("\n");
  assert.ok(!hidden.includes("s3cr"));
  assert.ok(hidden.includes("berth_1a2b3c4d:****@"));
  assert.ok(tooltipLines(status({ databaseUrl: url }), true).join("\n").includes("s3cr%40t"));
});

test("the tooltip names the berth, ports, template and baseline", () => {
  const lines = tooltipLines(status({ baseline: "demo-data", branch: "feature/cart" }), false);
  assert.equal(lines[0], "**berth** 1a2b3c4d · feature/cart");
  assert.ok(lines.includes("ports: app=8012, vite=5174"));
  assert.ok(lines.includes("template: `0f1e2d3c4b5a`"));
  assert.ok(lines.includes("baseline: demo-data"));
  assert.ok(lines.includes("migrations: 12 applied"));
  assert.ok(lines.includes("app: unknown on :8012"));
});

test("a failed provisioning is an error whose tooltip has the whole reason", () => {
  const why = "provisioning failed: could not create database shop_feature_cart_1a2b3c4d: disk full\nDETAIL: no space left";
  const s = status({ state: "error", error: why, message: "fix it, then provision again" });
  assert.equal(statusTone(s), "error");
  assert.equal(statusText(s), "$(error) berth: provisioning failed: could not create d…");
  const lines = tooltipLines(s, false);
  assert.equal(lines[0], "**berth**: provisioning failed: could not create database shop_feature_cart_1a2b3c4d: disk full");
  assert.ok(lines.includes("DETAIL: no space left"));
  assert.ok(lines.includes("fix it, then provision again"));
});

test("the tooltip's URL is a code span on a line of its own (the hover wraps it mid-word otherwise)", () => {
  const lines = tooltipLines(status(), false);
  const at = lines.indexOf("url:");
  assert.ok(at > 0, lines.join("\n"));
  assert.equal(lines[at + 1], "`postgresql://berth_1a2b3c4d:****@127.0.0.1:55432/shop_feature_cart_1a2b3c4d`");
});

test("the log has a line per status, without the password", () => {
  const line = statusLogLine(status({ databaseUrl: "postgresql://u:s3cret@h/d" }));
  assert.equal(line, "status file:///src/shop-cart: shop_feature_cart :8012 ✓");
});

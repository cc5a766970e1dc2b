// The quick pick a click on the status bar item opens. Pure, so it is unit tested.

import type { BerthStatus } from "./status";

export interface MenuItem {
  label: string;
  description: string;
  /** A command of this extension (`contributes.commands` in package.json); it gets the folder's URI. */
  command: string;
}

/** The commands that install berth (the `berth-env` package), the first one suggested. */
export const INSTALL_COMMANDS: readonly string[] = [
  "pipx install berth-env",
  "uv tool install berth-env",
  "pip install berth-env",
];

const OPEN_LOG: MenuItem = { label: "$(output) Open log", description: "the berth output channel", command: "berth.openLog" };

/**
 * The menu of the berth `status`; `cannotStart` when the language server did
 * not start (no `berth` executable): then only setting it up helps.
 */
export function menuItems(status: BerthStatus | undefined, cannotStart = false): MenuItem[] {
  if (cannotStart) {
    return [
      { label: "$(gear) Set berth.path…", description: "the berth executable to start", command: "berth.setPath" },
      { label: "$(cloud-download) Install berth", description: INSTALL_COMMANDS.join(" · "), command: "berth.install" },
      OPEN_LOG,
    ];
  }
  if (status?.state === "unmanaged") {
    // The main checkout keeps its own setup: nothing here may touch its database.
    return [OPEN_LOG];
  }
  if (status === undefined || status.state === "none") {
    return [{ label: "$(add) Provision", description: "give this worktree its berth (idempotent)", command: "berth.provisionWorktree" }, OPEN_LOG];
  }
  const pending = status.migrations.pending ?? 0;
  const items: MenuItem[] = [
    { label: "$(history) Reset", description: "fresh database from the template; the old one goes to the trash", command: "berth.resetDatabase" },
  ];
  if (status.server.state === "down" && status.server.kind !== "external") {
    // Nothing is known of the migrations until berth's own Postgres runs again.
    items.push({ label: "$(debug-start) Start server", description: "start berth's Postgres server (berth server start)", command: "berth.startPostgres" });
  } else if (status.migrations.state === "pending" && pending > 0) {
    items.push({ label: "$(play) Migrate", description: `apply ${plural(pending, "pending migration")}`, command: "berth.applyMigrations" });
  }
  items.push(
    { label: "$(add) Provision", description: "give this worktree its berth (idempotent)", command: "berth.provisionWorktree" },
    { label: "$(repo-forked) Fork from main", description: "this database becomes a copy of main's", command: "berth.forkFromMain" },
    { label: "$(device-camera) Snapshot…", description: "save this database as a named baseline", command: "berth.snapshotAs" },
    { label: "$(copy) Copy DATABASE_URL", description: status.database?.name ?? "", command: "berth.copyUrl" },
    OPEN_LOG,
  );
  return items;
}

/** `1 migration`, `2 migrations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

// The quick pick a click on the status bar item opens. Pure, so it is unit tested.

import type { BerthStatus } from "./status";

export interface MenuItem {
  label: string;
  description: string;
  /** A command of this extension (`contributes.commands` in package.json); it gets the folder's URI. */
  command: string;
}

export function menuItems(status: BerthStatus | undefined): MenuItem[] {
  const pending = status?.migrations.pending ?? 0;
  const name = status?.database?.name ?? "";
  const items: MenuItem[] = [
    { label: "$(history) Reset", description: "fresh database from the template; the old one goes to the trash", command: "berth.resetDatabase" },
    { label: "$(play) Migrate", description: pending ? `apply ${pending} pending migration${pending === 1 ? "" : "s"}` : "apply pending migrations", command: "berth.applyMigrations" },
    { label: "$(add) Provision", description: "give this worktree its berth (idempotent)", command: "berth.provisionWorktree" },
    { label: "$(repo-forked) Fork from main", description: "this database becomes a copy of main's", command: "berth.forkFromMain" },
    { label: "$(device-camera) Snapshot…", description: "save this database as a named baseline", command: "berth.snapshotAs" },
    { label: "$(copy) Copy DATABASE_URL", description: name, command: "berth.copyUrl" },
    { label: "$(output) Open log", description: "the berth output channel", command: "berth.openLog" },
  ];
  if (status?.state === "unmanaged") {
    // The main checkout keeps its own setup: nothing here may touch its database.
    return items.filter((item) => item.command === "berth.openLog");
  }
  if (status === undefined || status.state === "none") {
    return items.filter((item) => ["berth.provisionWorktree", "berth.openLog"].includes(item.command));
  }
  return items;
}

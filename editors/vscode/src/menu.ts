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

/** Control of the language server itself, as rust-analyzer's status menu has it. */
const SERVER_CONTROL: readonly MenuItem[] = [
  { label: "$(refresh) Restart language server", description: "berth lsp", command: "berth.restartServer" },
  { label: "$(debug-stop) Stop language server", description: "until Restart or the next window", command: "berth.stopLanguageServer" },
];

/** What the menu depends on besides the berth's status. */
export interface MenuOptions {
  /** The language server did not start (no `berth` executable): only setting it up helps. */
  cannotStart?: boolean;
  /** The language server is not running: the user stopped it, or no folder is berth's. */
  stopped?: boolean;
  /** SQLTools (mtxr.sqltools) is installed. */
  sqltools?: boolean;
  /** Database Client (cweijan.vscode-database-client2) is installed. */
  databaseClient?: boolean;
}

/** The menu of the berth `status`. */
export function menuItems(status: BerthStatus | undefined, options: MenuOptions = {}): MenuItem[] {
  if (options.cannotStart) {
    return [
      { label: "$(gear) Set berth.path…", description: "the berth executable to start", command: "berth.setPath" },
      { label: "$(cloud-download) Install berth", description: INSTALL_COMMANDS.join(" · "), command: "berth.install" },
      OPEN_LOG,
    ];
  }
  if (options.stopped) {
    return [{ label: "$(debug-start) Start language server", description: "berth lsp", command: "berth.restartServer" }, OPEN_LOG];
  }
  if (status?.state === "unmanaged") {
    // The main checkout keeps its own setup: nothing here may touch its database.
    return [...SERVER_CONTROL, OPEN_LOG];
  }
  if (status === undefined || status.state === "none") {
    return [PROVISION, ...SERVER_CONTROL, OPEN_LOG];
  }
  return [...berthItems(status, options), ...SERVER_CONTROL, OPEN_LOG];
}

const PROVISION: MenuItem = { label: "$(add) Provision", description: "give this worktree its berth (idempotent)", command: "berth.provisionWorktree" };

/** The actions on a berth: its database, its migrations, its server, other tools. */
function berthItems(status: BerthStatus, options: MenuOptions): MenuItem[] {
  const pending = status.migrations.pending ?? 0;
  const down = status.server.state === "down";
  const external = status.server.kind === "external";
  const items: MenuItem[] = [
    { label: "$(history) Reset", description: "fresh database from the template; the old one goes to the trash", command: "berth.resetDatabase" },
  ];
  if (down && !external) {
    // Nothing is known of the migrations until berth's own Postgres runs again.
    items.push({ label: "$(debug-start) Start server", description: "start berth's Postgres server (berth server start)", command: "berth.startPostgres" });
  } else if (status.migrations.state === "pending" && pending > 0) {
    items.push(
      { label: "$(play) Migrate", description: `apply ${plural(pending, "pending migration")}`, command: "berth.applyMigrations" },
      { label: "$(eye) Preview pending SQL", description: `what migrate would run (${plural(pending, "migration")})`, command: "berth.previewSql" },
    );
  }
  items.push({ label: "$(new-file) New migration…", description: "the next migration file, named as your tool names them", command: "berth.createMigration" });
  if (!down) {
    items.push(
      { label: "$(diff) Schema diff", description: "this database against its template", command: "berth.schemaDiff" },
      { label: "$(terminal) Open psql", description: "berth psql in a terminal", command: "berth.openPsql" },
    );
  }
  items.push(
    PROVISION,
    { label: "$(repo-forked) Fork from main", description: "this database becomes a copy of main's", command: "berth.forkFromMain" },
    { label: "$(device-camera) Snapshot…", description: "save this database as a named baseline", command: "berth.snapshotAs" },
    { label: "$(copy) Copy DATABASE_URL", description: status.database?.name ?? "", command: "berth.copyUrl" },
  );
  if (options.sqltools) {
    items.push({ label: "$(plug) Connect SQLTools…", description: "add this database to SQLTools (no password in settings)", command: "berth.connectSqltools" });
  }
  if (options.databaseClient) {
    items.push({ label: "$(plug) Connect Database Client…", description: "its connection form, with this database's values to copy", command: "berth.connectDatabaseClient" });
  }
  if (status.server.state === "running" && !external) {
    items.push({ label: "$(debug-stop) Stop Postgres", description: "stop berth's Postgres server: every berth on it goes offline", command: "berth.stopPostgres" });
  }
  return items;
}

/** `1 migration`, `2 migrations`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

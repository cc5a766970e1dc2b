// What the extension's commands act on and accept. Pure, so it is unit tested.

/**
 * Commands of this extension (palette, status bar menu) and the server's
 * commands (workspace/executeCommand) they run, always with a folder first.
 */
export const FOLDER_COMMANDS: Readonly<Record<string, string>> = {
  "berth.resetDatabase": "berth.reset",
  "berth.applyMigrations": "berth.migrate",
  "berth.provisionWorktree": "berth.provision",
  "berth.startPostgres": "berth.startServer",
};

/** The folder a command acts on, or a choice the user has to make among several. */
export type FolderChoice<T> = { folder: T } | { pick: readonly T[] } | undefined;

/**
 * The folder of the active editor (the one the status bar shows); without
 * one, the only workspace folder, else let the user pick; none when no folder is open.
 */
export function commandFolder<T>(active: T | undefined, folders: readonly T[]): FolderChoice<T> {
  if (active !== undefined) {
    return { folder: active };
  }
  if (folders.length === 1) {
    return { folder: folders[0] };
  }
  return folders.length ? { pick: folders } : undefined;
}

/** The server's rule for baseline names (berth/pg/baselines.py). */
const BASELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

/** Why `name` cannot be a snapshot (baseline) name, or undefined when it can. */
export function snapshotNameError(name: string): string | undefined {
  return BASELINE_NAME.test(name.trim())
    ? undefined
    : "use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit";
}

/** The server's arguments: its log (stderr) at info level goes to the output channel. */
export const SERVER_ARGS: readonly string[] = ["lsp", "--log-level", "info"];

/**
 * The name the snapshot prompt proposes, as the server's snapshot code action
 * does: `<branch slug>_<YYYYMMDD>_<HHMM>`, the slug cut so the name stays a valid baseline.
 */
export function defaultSnapshotName(branch: string | null | undefined, now: Date): string {
  const slug =
    (branch || "berth")
      .normalize("NFKD")
      .replace(/[^\x00-\x7f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "") || "x";
  const two = (n: number): string => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}_${two(now.getHours())}${two(now.getMinutes())}`;
  return `${slug.slice(0, 40 - stamp.length - 1).replace(/_+$/, "")}_${stamp}`;
}

/** Why `name` cannot name a new migration, or undefined when it can (the server names the file). */
export function migrationNameError(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return "name the migration, e.g. add_orders";
  if (/[\\/]/.test(trimmed)) return "a name, not a path: no '/' or '\\'";
  if (trimmed.length > 100) return "at most 100 characters";
  return undefined;
}

/** The terminal `Open psql` starts: `berth psql` in the worktree, with the berth the extension starts. */
export interface PsqlTerminal {
  name: string;
  cwd: string;
  shellPath: string;
  shellArgs: string[];
}

export function psqlTerminal(folderPath: string, berth: string, database: string | null | undefined): PsqlTerminal {
  return { name: `psql ${database ?? "berth"}`, cwd: folderPath, shellPath: berth, shellArgs: ["psql"] };
}

/** The result of the server's commands that write a file (new migration, preview, diff). */
export interface DocumentResult {
  path: string;
  uri: string;
  /** previewMigrations: how many migrations the SQL covers. */
  pending?: number;
}

export function isDocumentResult(value: unknown): value is DocumentResult {
  if (typeof value !== "object" || value === null) return false;
  const result = value as Record<string, unknown>;
  return typeof result.path === "string" && typeof result.uri === "string";
}

// What the extension's commands act on and accept. Pure, so it is unit tested.

/**
 * Commands of this extension (palette, status bar menu) and the server's
 * commands (workspace/executeCommand) they run, always with a folder first.
 */
export const FOLDER_COMMANDS: Readonly<Record<string, string>> = {
  "berth.resetDatabase": "berth.reset",
  "berth.applyMigrations": "berth.migrate",
  "berth.provisionWorktree": "berth.provision",
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

// Whether a workspace folder is berth's: VS Code activates the extension on the
// mere presence of a pyproject.toml, so the extension then looks inside. Pure
// (the reading is passed in), so it is unit tested.

import * as path from "node:path";

/** Files whose presence alone makes a folder berth's. */
export const BERTH_FILES: readonly string[] = ["berth.toml", ".env.berth"];

/** What the extension read of one workspace folder. */
export interface FolderProbe {
  /** Does `name` (relative to the folder, or absolute) exist? */
  exists(name: string): boolean;
  /** The text of a top-level file, undefined when it cannot be read. */
  read(name: string): string | undefined;
}

/**
 * Why the folder is berth's (the marker found), or undefined: a berth.toml, an
 * env file berth wrote, a pyproject.toml with a [tool.berth] table, or a berth
 * recorded in the worktree's git dir (`berth.json`, written by `berth up`).
 */
export function berthMarker(probe: FolderProbe): string | undefined {
  for (const name of BERTH_FILES) {
    if (probe.exists(name)) return name;
  }
  const pyproject = probe.read("pyproject.toml");
  if (pyproject !== undefined && pyprojectHasBerth(pyproject)) return "pyproject.toml [tool.berth]";
  const gitDir = gitDirOf(probe);
  if (gitDir !== undefined && probe.exists(path.join(gitDir, "berth.json"))) return "a berth (berth.json)";
  return undefined;
}

/**
 * The folder's git dir, relative to the folder or absolute: `.git` itself, or
 * where a linked worktree's `.git` file points (`gitdir: <path>`).
 */
export function gitDirOf(probe: FolderProbe): string | undefined {
  const dotGit = probe.read(".git");
  if (dotGit === undefined) return probe.exists(".git") ? ".git" : undefined;
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(dotGit);
  return match ? match[1] : undefined;
}

/** A TOML key with its quotes and the blanks around dots dropped: `tool . "berth"` -> `tool.berth`. */
function normalKey(key: string): string {
  return key
    .split(".")
    .map((part) => part.trim().replace(/^"(.*)"$|^'(.*)'$/, "$1$2"))
    .join(".");
}

/**
 * Does a pyproject.toml hold berth's configuration: a `[tool.berth]` table (or
 * one of its subtables), `berth...` keys under `[tool]`, or a top-level
 * `tool.berth...` dotted key? A line scan, as berth's own config is a table.
 */
export function pyprojectHasBerth(text: string): boolean {
  let table = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      table = normalKey(header[1]);
      if (table === "tool.berth" || table.startsWith("tool.berth.")) return true;
      continue;
    }
    const key = /^([^=]+)=/.exec(line);
    if (!key) continue;
    const full = normalKey(table ? `${table}.${key[1]}` : key[1]);
    if (full === "tool.berth" || full.startsWith("tool.berth.")) return true;
  }
  return false;
}

// The Berths view: the project's berths, their trash, baselines and templates,
// as the server's `berth.berths` command lists them. Pure (no `vscode` import):
// berthsView.ts turns these nodes into tree items; the unit tests read them here.

/** A row of `berth ls --json`, as `berth.berths` gives it. */
export interface BerthRow {
  instance: string;
  project?: string;
  state: string;
  slot: number | null;
  database: string | null;
  ports: Record<string, number>;
  branch: string | null;
  worktree: string | null;
  worktree_exists?: boolean;
  app?: AppInfo | null;
}

/** What berth knows of the berth's app: processes `berth run` started, the health probe. */
export interface AppInfo {
  running?: boolean;
  processes?: { pid: number; command: string }[];
  health?: { url?: string; state: string; status?: number | null; error?: string | null } | null;
}

export interface TrashEntry {
  name: string;
  instance: string;
  original: string;
  trashed_at: number;
  reason: string | null;
}

export interface Baseline {
  name: string;
  database?: string;
  fingerprint?: string | null;
  created?: number | null;
}

export interface Template {
  name: string;
  fingerprint: string;
  steps?: number | null;
  created?: number | null;
  size?: number | null;
}

/** The result of `berth.berths`. */
export interface BerthsResult {
  project: string;
  berths: BerthRow[];
  trash: TrashEntry[];
  baselines: Baseline[];
  templates: Template[];
  server: "up" | "down";
}

/** One project's listing and the workspace folder (URI) it was read from. */
export interface ProjectBerths {
  folder: string;
  data: BerthsResult;
}

export type NodeKind = "project" | "group" | "berth" | "port" | "process" | "trash" | "baseline" | "template" | "note";

export interface BerthsNode {
  /** Stable across refreshes: VS Code keeps a node's expansion by its id. */
  id: string;
  kind: NodeKind;
  label: string;
  description: string;
  /** Markdown lines. */
  tooltip: string[];
  /** A codicon name. */
  icon: string;
  /** A theme colour id for the icon. */
  iconColor?: string;
  /** `viewItem` in package.json's menus: the inline actions hang on it. */
  contextValue: string;
  /** Whether the node starts expanded; children or not. */
  expanded: boolean;
  children: BerthsNode[];
  /** The workspace folder (URI) the server commands on this node act from. */
  folder: string;
  /** A port: the URL Open app opens. */
  url?: string;
  /** A trash entry: its name (`berth restore NAME`) and the database it was. */
  trash?: string;
  original?: string;
  /** The screen reader's label. */
  aria: string;
}

/** The URL of a berth's port on this machine. */
export function portUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** `2026-11-20 14:02` (`14:02:30` with `seconds`), local time, of seconds since the epoch. */
export function when(epoch: number | null | undefined, seconds = false): string {
  if (typeof epoch !== "number" || !Number.isFinite(epoch)) return "";
  const d = new Date(epoch * 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  const time = `${two(d.getHours())}:${two(d.getMinutes())}${seconds ? `:${two(d.getSeconds())}` : ""}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${time}`;
}

/** `7.3 MB` of a size in bytes. */
export function size(bytes: number | null | undefined): string {
  if (typeof bytes !== "number") return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Paths compared without a trailing slash. */
function samePath(a: string | null | undefined, b: string): boolean {
  const strip = (p: string): string => p.replace(/(.)\/+$/, "$1");
  return typeof a === "string" && strip(a) === strip(b);
}

/**
 * The view's roots: the groups of the only project, or a node per project
 * (a multi-root workspace of several). `open` is the workspace folders' paths:
 * their berths are marked "this window".
 */
export function berthsTree(projects: readonly ProjectBerths[], open: readonly string[]): BerthsNode[] {
  if (projects.length === 1) {
    return projectGroups(projects[0], open);
  }
  return projects.map((project) => {
    const groups = projectGroups(project, open);
    return {
      id: `project:${project.data.project}`,
      kind: "project",
      label: project.data.project,
      description: plural(project.data.berths.length, "berth"),
      tooltip: [`**${project.data.project}**`],
      icon: "project",
      contextValue: "berth.project",
      expanded: true,
      children: groups,
      folder: project.folder,
      aria: `project ${project.data.project}`,
    } satisfies BerthsNode;
  });
}

function projectGroups({ folder, data }: ProjectBerths, open: readonly string[]): BerthsNode[] {
  const base = `${data.project}/`;
  const note = (id: string, label: string, tooltip: string[] = []): BerthsNode => ({
    id: `${base}${id}`,
    kind: "note",
    label,
    description: "",
    tooltip,
    icon: "info",
    contextValue: "berth.note",
    expanded: false,
    children: [],
    folder,
    aria: label,
  });
  // A group: its count as description, or `empty` when it has nothing; `note` instead of children.
  const group = (id: string, label: string, icon: string, children: BerthsNode[], empty: string, why?: BerthsNode): BerthsNode => ({
    id: `${base}${id}`,
    kind: "group",
    label,
    description: why ? why.label : children.length ? String(children.length) : empty,
    tooltip: [],
    icon,
    contextValue: `berth.group.${id}`,
    expanded: children.length > 0 || why !== undefined,
    children: why ? [why] : children,
    folder,
    aria: `${label}: ${why ? why.label : children.length ? children.length : empty}`,
  });
  const branches = new Map(data.berths.map((row) => [row.instance, row.branch ?? row.instance]));
  // With the server down, baselines and templates are unknown (not none).
  const down = (id: string): BerthsNode | undefined =>
    data.server === "down" ? note(`${id}/down`, "server down", ["berth's Postgres is not running: `berth server start`"]) : undefined;
  const trash = [...data.trash].sort((a, b) => b.trashed_at - a.trashed_at);
  return [
    group("berths", "Berths", "database", data.berths.map((row) => berthNode(base, folder, row, open)), "none"),
    group("trash", "Trash", "trash", trash.map((e) => trashNode(base, folder, e, branches)), "empty"),
    group("baselines", "Baselines", "device-camera", data.baselines.map((b) => baselineNode(base, folder, b)), "none", down("baselines")),
    group("templates", "Templates", "layers", data.templates.map((t) => templateNode(base, folder, t)), "none", down("templates")),
  ];
}

/** A berth: `feature/cart` · `this window · :8012 · health ok`; its ports (and app processes) below. */
function berthNode(base: string, folder: string, row: BerthRow, open: readonly string[]): BerthsNode {
  const here = open.some((path) => samePath(row.worktree, path));
  const health = row.app?.health ?? null;
  const ports = Object.entries(row.ports ?? {}).sort(([, a], [, b]) => a - b);
  const main = row.ports?.app ?? ports[0]?.[1];
  const gone = row.worktree_exists === false;
  const description = [
    here ? "this window" : "",
    row.state !== "active" ? row.state : "",
    main !== undefined ? `:${main}` : "",
    row.app?.running ? "running" : "",
    health ? `health ${health.state}` : "",
    gone ? "worktree gone" : "",
  ]
    .filter(Boolean)
    .join(" · ");
  const id = `${base}berth/${row.instance}`;
  const children: BerthsNode[] = ports.map(([name, port]) => ({
    id: `${id}/port/${name}`,
    kind: "port",
    label: name,
    description: `${portUrl(port)}${name === "app" && health ? ` · health ${health.state}` : ""}`,
    tooltip: [`**${name}** on port ${port}`, "", `Open app: ${portUrl(port)}`],
    icon: "globe",
    contextValue: "berth.port",
    expanded: false,
    children: [],
    folder,
    url: portUrl(port),
    aria: `port ${name} ${port}`,
  }));
  for (const process of row.app?.processes ?? []) {
    children.push({
      id: `${id}/pid/${process.pid}`,
      kind: "process",
      label: `pid ${process.pid}`,
      description: process.command,
      tooltip: [`\`${process.command}\` (berth run)`],
      icon: "pulse",
      contextValue: "berth.process",
      expanded: false,
      children: [],
      folder,
      aria: `process ${process.pid} ${process.command}`,
    });
  }
  const tooltip = [
    `**${row.branch ?? row.instance}**${here ? " (this window)" : ""}`,
    "",
    `berth: ${row.instance} (${row.state}${row.slot !== null && row.slot !== undefined ? `, slot ${row.slot}` : ""})`,
    `database: \`${row.database ?? "—"}\``,
    `worktree: ${row.worktree ?? "—"}${gone ? " (gone)" : ""}`,
    `ports: ${ports.length ? ports.map(([name, port]) => `${name}=${port}`).join(", ") : "none"}`,
  ];
  if (row.app?.running) {
    tooltip.push(`app: running (${(row.app.processes ?? []).map((p) => `pid ${p.pid}`).join(", ")})`);
  }
  if (health) {
    const detail = health.status ? ` (HTTP ${health.status})` : health.error ? ` (${health.error})` : "";
    tooltip.push(`health: ${health.state}${detail}${health.url ? ` — ${health.url}` : ""}`);
  }
  return {
    id,
    kind: "berth",
    label: row.branch ?? row.instance,
    description,
    tooltip,
    icon: here ? "star-full" : "database",
    iconColor: healthColor(health?.state),
    contextValue: here ? "berth.berth.current" : "berth.berth",
    expanded: here,
    children,
    folder,
    aria: `berth ${row.branch ?? row.instance}${description ? `, ${description}` : ""}`,
  };
}

function healthColor(state: string | undefined): string | undefined {
  if (state === "ok") return "charts.green";
  if (state === "down" || state === "failing") return "charts.red";
  return undefined;
}

/** A trash entry: the branch its berth is on, `reset · 2026-11-20 14:02`; Restore inline. */
function trashNode(base: string, folder: string, entry: TrashEntry, branches: Map<string, string>): BerthsNode {
  // To the second: two resets a minute apart are told apart.
  const at = when(entry.trashed_at, true);
  const reason = entry.reason ?? "trashed";
  const label = branches.get(entry.instance) ?? entry.original;
  return {
    id: `${base}trash/${entry.name}`,
    kind: "trash",
    label,
    description: [reason, at].filter(Boolean).join(" · "),
    tooltip: [
      `**${entry.name}**`,
      "",
      `was: \`${entry.original}\` (berth ${entry.instance})`,
      `trashed: ${at} (${reason})`,
      "",
      "Restore brings it back as its berth's database; the current one goes to the trash.",
    ],
    icon: "history",
    contextValue: "berth.trash",
    expanded: false,
    children: [],
    folder,
    trash: entry.name,
    original: entry.original,
    aria: `trash entry ${entry.name} of ${entry.original}, ${reason} ${at}`,
  };
}

function baselineNode(base: string, folder: string, baseline: Baseline): BerthsNode {
  const fingerprint = baseline.fingerprint ? baseline.fingerprint.slice(0, 12) : "";
  return {
    id: `${base}baseline/${baseline.name}`,
    kind: "baseline",
    label: baseline.name,
    description: [when(baseline.created), fingerprint].filter(Boolean).join(" · "),
    tooltip: [
      `**${baseline.name}**`,
      "",
      `database: \`${baseline.database ?? "—"}\``,
      `fingerprint: ${fingerprint || "—"}`,
      "",
      `New berths start from it with \`berth up --baseline ${baseline.name}\`.`,
    ],
    icon: "device-camera",
    contextValue: "berth.baseline",
    expanded: false,
    children: [],
    folder,
    aria: `baseline ${baseline.name}`,
  };
}

function templateNode(base: string, folder: string, template: Template): BerthsNode {
  const steps = typeof template.steps === "number" ? plural(template.steps, "migration") : "";
  return {
    id: `${base}template/${template.name}`,
    kind: "template",
    label: template.fingerprint.slice(0, 12),
    description: [steps, size(template.size), when(template.created)].filter(Boolean).join(" · "),
    tooltip: [`**${template.name}**`, "", `fingerprint: ${template.fingerprint}`],
    icon: "layers",
    contextValue: "berth.template",
    expanded: false,
    children: [],
    folder,
    aria: `template ${template.fingerprint.slice(0, 12)}`,
  };
}

/** The confirmation Restore asks (modal): the question and its detail. */
export function restoreQuestion(node: Pick<BerthsNode, "trash" | "original" | "description">): {
  message: string;
  detail: string;
} {
  return {
    message: `Restore ${node.original ?? node.trash} from the trash?`,
    detail: `${node.trash} (${node.description}) becomes the berth's database again; the current one goes to the trash (Restore brings it back).`,
  };
}

/** Whether `value` looks like a `berth.berths` result (the server gives null on failure). */
export function isBerthsResult(value: unknown): value is BerthsResult {
  if (typeof value !== "object" || value === null) return false;
  const data = value as Record<string, unknown>;
  return typeof data.project === "string" && Array.isArray(data.berths) && Array.isArray(data.trash);
}

/**
 * The folders to ask for the view: one per project (the first folder of each),
 * leaving out those whose status is unknown or an error (asking would only
 * repeat the error in a message each refresh).
 */
export function foldersToList<F>(folders: readonly F[], status: (folder: F) => { state: string; project: string | null } | undefined): F[] {
  const seen = new Set<string>();
  const picked: F[] = [];
  for (const folder of folders) {
    const s = status(folder);
    if (s === undefined || s.state === "error" || !s.project || seen.has(s.project)) continue;
    seen.add(s.project);
    picked.push(folder);
  }
  return picked;
}

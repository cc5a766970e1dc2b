// The `berth/status` notification and how it reads in the status bar.
// Pure: no `vscode` import, so the unit tests run under plain node.

export type BerthState = "ready" | "provisioning" | "unmanaged" | "none" | "error";
export type MigrationState = "ok" | "pending" | "edited" | "ahead" | "unknown";

/** Counts are null while nobody could read them (state `unknown`: the server down, no berth). */
export interface Migrations {
  applied: number | null;
  pending: number | null;
  edited: number | null;
  missing: number | null;
  state: MigrationState;
}

export interface BerthStatus {
  folder: string;
  state: BerthState;
  instance: string | null;
  project: string | null;
  worktree: string | null;
  branch?: string | null;
  database: { name: string; url: string } | null;
  databaseUrl: string | null;
  ports: Record<string, number>;
  template: string | null;
  baseline: string | null;
  migrations: Migrations;
  server: { state: "running" | "down" | "unknown"; kind: "embedded" | "external" | null };
  app: { health: "up" | "down" | "unknown" };
  message: string | null;
  error: string | null;
}

/** How the item is coloured: the status bar only has warning and error backgrounds. */
export type Tone = "ok" | "warning" | "error" | "busy" | "idle";

export interface StatusView {
  text: string;
  tone: Tone;
  tooltip: string[];
}

/** `<project>_<slug>`: the database name without the instance id every berth shares. */
export function berthName(status: BerthStatus): string {
  const name = status.database?.name;
  if (!name) {
    return status.project || "berth";
  }
  const suffix = status.instance ? `_${status.instance}` : "";
  return suffix && name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

/** The port people type into a browser: `app` when there is one, else the lowest. */
export function mainPort(ports: Record<string, number>): number | undefined {
  if (ports.app !== undefined) {
    return ports.app;
  }
  const values = Object.values(ports);
  return values.length ? Math.min(...values) : undefined;
}

/** The migration part of the text: ✓, or what is wrong and how much of it. */
export function migrationBadge(m: Migrations): string {
  switch (m.state) {
    case "ok":
      return "✓";
    case "pending":
      return `⚠ ${m.pending} pending`;
    case "edited":
      return `✗ ${m.edited} edited`;
    case "ahead":
      return `⚠ ${m.missing} not on this branch`;
    default:
      return "?";
  }
}

function migrationTone(m: Migrations): Tone {
  switch (m.state) {
    case "ok":
      return "ok";
    case "edited":
      return "error";
    default:
      return "warning";
  }
}

export function statusText(status: BerthStatus): string {
  const port = mainPort(status.ports);
  const where = port === undefined ? "" : ` :${port}`;
  switch (status.state) {
    case "ready":
      if (status.server.state === "down") {
        return `$(database) ${berthName(status)}${where} ✗ server down`;
      }
      return `$(database) ${berthName(status)}${where} ${migrationBadge(status.migrations)}`;
    case "provisioning":
      return `$(sync~spin) ${berthName(status)} provisioning…`;
    case "unmanaged":
      return "$(database) main checkout";
    case "none":
      return "$(database) no berth";
    default:
      return `$(error) berth: ${shorten(status.error ?? "error", 40)}`;
  }
}

export function statusTone(status: BerthStatus): Tone {
  switch (status.state) {
    case "ready":
      return status.server.state === "down" ? "error" : migrationTone(status.migrations);
    case "provisioning":
      return "busy";
    case "error":
      return "error";
    default:
      return "idle";
  }
}

/** Replace the password in a postgres URL by `****` (the server masks too; this is belt and braces). */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]+):[^@]*@/i, "$1:****@");
}

export function portsText(ports: Record<string, number>): string {
  const entries = Object.entries(ports);
  return entries.length ? entries.map(([name, port]) => `${name}=${port}`).join(", ") : "none";
}

function migrationsText(m: Migrations, server: BerthStatus["server"]): string {
  if (m.applied === null || m.applied === undefined) {
    return server.state === "down" ? "unknown (server down)" : "unknown";
  }
  const parts = [`${m.applied} applied`];
  if (m.pending) parts.push(`${m.pending} pending`);
  if (m.edited) parts.push(`${m.edited} edited after apply`);
  if (m.missing) parts.push(`${m.missing} not on this branch`);
  return parts.join(", ");
}

/** Tooltip lines (markdown). The URL is masked unless the user asked to see secrets. */
export function tooltipLines(status: BerthStatus, showSecrets: boolean): string[] {
  if (status.state === "error") {
    // The whole reason, line by line (the item shows its first 40 characters).
    const [first, ...rest] = (status.error ?? "error").split("\n");
    const hint = status.message ? ["", status.message] : [];
    return [`**berth**: ${first}`, ...rest, ...hint, "", "Click for actions and the log."];
  }
  if (status.state === "unmanaged" || status.state === "none") {
    const why = status.message ?? (status.state === "none" ? "this worktree has no berth yet" : "");
    return [`**berth**: ${why}`, "", "Click for actions."];
  }
  const url = status.databaseUrl ?? status.database?.url ?? null;
  const port = mainPort(status.ports);
  const lines = [
    `**berth** ${status.instance ?? ""}${status.branch ? ` · ${status.branch}` : ""}`,
    "",
    `database: \`${status.database?.name ?? "—"}\``,
    // On a line of its own: after a label the hover wraps a long URL in the middle.
    "url:",
    `\`${url === null ? "—" : showSecrets ? url : maskUrl(url)}\``,
    `ports: ${portsText(status.ports)}`,
    `template: ${status.template ? `\`${status.template.slice(0, 12)}\`` : "—"}`,
    `baseline: ${status.baseline ?? "—"}`,
    `migrations: ${migrationsText(status.migrations, status.server)}`,
    `server: ${status.server.state}${status.server.kind ? ` (${status.server.kind})` : ""}`,
    `app: ${status.app.health}${port === undefined ? "" : ` on :${port}`}`,
  ];
  if (status.message) {
    lines.push("", status.message);
  }
  return lines;
}

export function statusView(status: BerthStatus, showSecrets: boolean): StatusView {
  return {
    text: statusText(status),
    tone: statusTone(status),
    tooltip: tooltipLines(status, showSecrets),
  };
}

function shorten(text: string, max: number): string {
  const line = text.split("\n", 1)[0];
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The output channel's line for a status the server pushed (never the password). */
export function statusLogLine(status: BerthStatus): string {
  const text = statusText(status).replace(/\$\([^)]*\)\s*/g, "");
  return `status ${status.folder}: ${text}${status.message ? ` (${status.message})` : ""}`;
}

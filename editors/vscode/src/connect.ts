// Handing a berth's database to the database extensions people already use:
// SQLTools (mtxr.sqltools) and Database Client (cweijan). Pure, so it is unit
// tested; the password is never part of what is written.

/** The server's `berth.connection` result (`password` only when asked with secrets). */
export interface Connection {
  /** The berth's id (its instance). */
  name: string;
  host: string;
  port: number;
  database: string;
  user: string;
  /** The URL, its password masked unless asked with secrets. */
  url: string;
  password?: string;
}

export const SQLTOOLS = "mtxr.sqltools";
/** Database Client is published under two ids (its "Database Client" and its older "MySQL" listing). */
export const DATABASE_CLIENTS: readonly string[] = ["cweijan.vscode-database-client2", "cweijan.vscode-mysql-client2"];
/** Database Client's command that opens its new-connection form. */
export const DATABASE_CLIENT_ADD = "mysql.connection.add";

/**
 * An entry of SQLTools' `sqltools.connections` setting (its PostgreSQL driver).
 * Without `password` and `askForPassword` SQLTools uses its "SQLTools Driver
 * Credentials" mode: it asks for the password on the first connect and can
 * keep it in the system keychain; settings.json never holds it.
 */
export interface SqltoolsConnection {
  name: string;
  group: string;
  driver: "PostgreSQL";
  server: string;
  port: number;
  database: string;
  username: string;
}

/**
 * The name a berth's connection goes by in the other tools: `berth
 * <project>_<slug>`, its database's name without the id, as the status bar
 * item shows it; the entry of the same name is replaced, not added again.
 */
export function connectionName(connection: Connection): string {
  const suffix = `_${connection.name}`;
  const database = connection.database;
  return `berth ${database.endsWith(suffix) ? database.slice(0, -suffix.length) : database}`;
}

export function sqltoolsConnection(connection: Connection): SqltoolsConnection {
  return {
    name: connectionName(connection),
    group: "berth",
    driver: "PostgreSQL",
    server: connection.host,
    port: connection.port,
    database: connection.database,
    username: connection.user,
  };
}

/** `connections` with `entry` in place of the one of the same name (else added last); nothing else changes. */
export function withConnection<T extends { name?: unknown }>(connections: readonly T[] | undefined, entry: T): T[] {
  const list = [...(connections ?? [])];
  const at = list.findIndex((c) => c?.name === entry.name);
  if (at >= 0) list[at] = entry;
  else list.push(entry);
  return list;
}

export type SettingsScope = "workspaceFolder" | "workspace" | "global";

/**
 * Where the connection goes: user settings, unless the workspace (or the
 * folder) defines `sqltools.connections` already. SQLTools reads the list
 * from the most specific settings that have one, so an entry in user settings
 * would be hidden there; and the worktree's own .vscode/settings.json is not
 * touched unless it lists connections itself.
 */
export function connectionsScope(
  inspected: { workspaceFolderValue?: unknown; workspaceValue?: unknown } | undefined,
): SettingsScope {
  if (inspected?.workspaceFolderValue !== undefined) return "workspaceFolder";
  if (inspected?.workspaceValue !== undefined) return "workspace";
  return "global";
}

/** A value to copy into Database Client's connection form. */
export interface FormField {
  label: string;
  value: string;
}

/**
 * What Database Client's form needs, in its order. It keeps its connections
 * in its own storage (no setting another extension can write), so these are
 * offered to copy; the password only when picked.
 */
export function databaseClientFields(connection: Connection): FormField[] {
  return [
    { label: "Connection name", value: connectionName(connection) },
    { label: "Server type", value: "PostgreSQL" },
    { label: "Host", value: connection.host },
    { label: "Port", value: String(connection.port) },
    { label: "Username", value: connection.user },
    { label: "Database", value: connection.database },
  ];
}

/** Is `value` the `berth.connection` result (a test of shape, before it is used)? */
export function isConnection(value: unknown): value is Connection {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.host === "string" &&
    typeof c.port === "number" &&
    typeof c.database === "string" &&
    typeof c.user === "string" &&
    typeof c.name === "string"
  );
}

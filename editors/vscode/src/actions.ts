// The extension's commands that ask before they run or do more than run a server
// command: snapshots, the URL, installing berth, migration files, the SQL
// migrate would run, the schema diff, psql, stopping Postgres, and the handoff
// to SQLTools and Database Client. What they decide is in commands.ts and
// connect.ts (pure); this is the talking to VS Code.

import * as vscode from "vscode";

import {
  defaultSnapshotName,
  isDocumentResult,
  migrationNameError,
  psqlTerminal,
  snapshotNameError,
} from "./commands";
import {
  type Connection,
  connectionName,
  connectionsScope,
  DATABASE_CLIENT_ADD,
  DATABASE_CLIENTS,
  databaseClientFields,
  isConnection,
  SQLTOOLS,
  sqltoolsConnection,
  withConnection,
} from "./connect";
import { INSTALL_COMMANDS } from "./menu";
import type { BerthStatus } from "./status";

/** What the actions need of the extension: its server, its folders, its log. */
export interface Host {
  /** Undefined when the server's commands can run; else why not (already shown to the user). */
  cannotRun(): string | undefined;
  /** The folder URI a command acts on: the one given, the active editor's, the only one, or a pick. */
  targetFolder(target: unknown): Promise<string | undefined>;
  /** Run the server's `command` on `folder`; undefined when it failed (the user was told). */
  execute(command: string, folder: string, ...args: unknown[]): Promise<unknown>;
  status(folder: string): BerthStatus | undefined;
  /** The berth executable for a folder (berth.path, the folder's .venv, PATH). */
  berthPath(folderPath: string): string;
  log(line: string): void;
}

/** The folder to act on, once the server can run commands; undefined otherwise. */
async function folderFor(host: Host, target: unknown): Promise<string | undefined> {
  if (host.cannotRun() !== undefined) return undefined;
  return host.targetFolder(target);
}

export async function snapshotAs(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const name = await vscode.window.showInputBox({
    title: "berth: snapshot",
    // The name the server's snapshot code action proposes.
    value: defaultSnapshotName(host.status(folder)?.branch, new Date()),
    prompt: "Name of the baseline (new berths can start from it with `berth up --baseline NAME`)",
    validateInput: snapshotNameError,
  });
  if (name) await host.execute("berth.snapshot", folder, name.trim());
}

/** Offer the commands that install berth; the picked one is copied, or run in a terminal. */
export async function install(): Promise<void> {
  const command = await vscode.window.showQuickPick([...INSTALL_COMMANDS], {
    title: "berth: install berth",
    placeHolder: "copy which command? (then: berth: Restart the language server)",
  });
  if (!command) return;
  await vscode.env.clipboard.writeText(command);
  const run = await vscode.window.showInformationMessage(`berth: copied to the clipboard: ${command}`, "Run in terminal");
  if (run) {
    const terminal = vscode.window.createTerminal("berth install");
    terminal.show();
    terminal.sendText(command);
  }
}

export async function copyUrl(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const url = await host.execute("berth.copyDatabaseUrl", folder);
  if (typeof url === "string" && url) {
    await vscode.env.clipboard.writeText(url);
    void vscode.window.showInformationMessage("berth: DATABASE_URL copied");
  }
}

/** Open the file a server command wrote (it also asked with window/showDocument). */
async function openResult(result: unknown, readOnly: boolean): Promise<void> {
  if (!isDocumentResult(result)) return;
  await vscode.window.showTextDocument(vscode.Uri.parse(result.uri), { preview: readOnly });
  if (readOnly) {
    // Generated: editing it changes nothing berth does.
    await vscode.commands.executeCommand("workbench.action.files.setActiveEditorReadonlyInSession");
  }
}

export async function createMigration(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const name = await vscode.window.showInputBox({
    title: "berth: new migration",
    prompt: "What it does, e.g. add_orders: berth names the file as your migration tool does",
    placeHolder: "add_orders",
    validateInput: migrationNameError,
  });
  if (!name) return;
  await openResult(await host.execute("berth.newMigration", folder, name.trim()), false);
}

export async function previewSql(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const result = await host.execute("berth.previewMigrations", folder);
  if (isDocumentResult(result) && result.pending === 0) {
    void vscode.window.showInformationMessage("berth: no pending migrations: migrate would run nothing");
  }
  await openResult(result, true);
}

export async function schemaDiff(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  await openResult(await host.execute("berth.diffSchema", folder), true);
}

/** `berth psql` in an integrated terminal, in the worktree, with the berth the extension starts. */
export async function openPsql(host: Host, target?: unknown): Promise<void> {
  const folder = await host.targetFolder(target);
  if (folder === undefined) return;
  const folderPath = vscode.Uri.parse(folder).fsPath;
  const options = psqlTerminal(folderPath, host.berthPath(folderPath), host.status(folder)?.database?.name);
  host.log(`psql: ${options.shellPath} psql in ${folderPath}`);
  vscode.window.createTerminal(options).show();
}

export async function stopPostgres(host: Host, target?: unknown): Promise<void> {
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const stop = await vscode.window.showWarningMessage(
    "Stop berth's Postgres server?",
    {
      modal: true,
      detail: "Every berth on it goes offline until it starts again (Start server, or berth server start).",
    },
    "Stop",
  );
  if (stop === "Stop") await host.execute("berth.stopServer", folder);
}

/** The folder's connection (host, port, database, user), the password only with `secrets`. */
async function connection(host: Host, folder: string, secrets = false): Promise<Connection | undefined> {
  const result = await host.execute("berth.connection", folder, ...(secrets ? [{ secrets: true }] : []));
  return isConnection(result) ? result : undefined;
}

/** Copy the berth's password, asked of the server only now. */
async function copyPassword(host: Host, folder: string): Promise<boolean> {
  const secret = await connection(host, folder, true);
  if (typeof secret?.password !== "string") return false;
  await vscode.env.clipboard.writeText(secret.password);
  return true;
}

/** Offer to show an extension that is not installed; true when it is. */
async function installed(ids: readonly string[], name: string): Promise<boolean> {
  if (ids.some((id) => vscode.extensions.getExtension(id) !== undefined)) return true;
  const show = await vscode.window.showInformationMessage(`berth: ${name} is not installed`, `Show ${name}`);
  if (show) await vscode.commands.executeCommand("workbench.extensions.search", ids[0]);
  return false;
}

/**
 * Add (or update) the berth's connection in SQLTools' `sqltools.connections`,
 * without its password: SQLTools asks for it on the first connect.
 */
export async function connectSqltools(host: Host, target?: unknown): Promise<void> {
  if (!(await installed([SQLTOOLS], "SQLTools"))) return;
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const found = await connection(host, folder);
  if (found === undefined) return;
  const entry = sqltoolsConnection(found);
  const config = vscode.workspace.getConfiguration("sqltools", vscode.Uri.parse(folder));
  const inspected = config.inspect<unknown[]>("connections");
  const scope = connectionsScope(inspected);
  const targets = {
    workspaceFolder: [vscode.ConfigurationTarget.WorkspaceFolder, inspected?.workspaceFolderValue, "folder settings"],
    workspace: [vscode.ConfigurationTarget.Workspace, inspected?.workspaceValue, "workspace settings"],
    global: [vscode.ConfigurationTarget.Global, inspected?.globalValue, "user settings"],
  } as const;
  const [where, current, label] = targets[scope];
  const list = Array.isArray(current) ? (current as { name?: unknown }[]) : [];
  await config.update("connections", withConnection(list, entry), where);
  host.log(`SQLTools: ${entry.name} in ${label}`);
  const copy = await vscode.window.showInformationMessage(
    `berth: SQLTools has "${entry.name}" (${label}, no password); it asks for the password on the first connect`,
    "Copy password",
  );
  if (copy && (await copyPassword(host, folder))) {
    void vscode.window.showInformationMessage("berth: password copied");
  }
}

/**
 * Database Client keeps its connections in its own storage: open its
 * connection form and offer each value to copy into it, the password too.
 */
export async function connectDatabaseClient(host: Host, target?: unknown): Promise<void> {
  if (!(await installed(DATABASE_CLIENTS, "Database Client"))) return;
  const folder = await folderFor(host, target);
  if (folder === undefined) return;
  const found = await connection(host, folder);
  if (found === undefined) return;
  if ((await vscode.commands.getCommands(true)).includes(DATABASE_CLIENT_ADD)) {
    await vscode.commands.executeCommand(DATABASE_CLIENT_ADD);
  }
  const password = { label: "Password", description: "asked of berth when picked", value: undefined };
  const fields = databaseClientFields(found).map((f) => ({ label: f.label, description: f.value, value: f.value }));
  const pick = vscode.window.createQuickPick<{ label: string; description: string; value: string | undefined }>();
  pick.title = `berth: ${connectionName(found)} for Database Client`;
  pick.placeholder = "Enter copies the value; Escape when the form is filled";
  pick.items = [...fields, password];
  pick.ignoreFocusOut = true;
  pick.onDidAccept(async () => {
    const item = pick.selectedItems[0];
    if (item === undefined) return;
    const copied = item.value === undefined ? await copyPassword(host, folder) : true;
    if (item.value !== undefined) await vscode.env.clipboard.writeText(item.value);
    pick.title = copied ? `berth: copied ${item.label}` : `berth: could not read the password`;
  });
  pick.onDidHide(() => pick.dispose());
  pick.show();
}

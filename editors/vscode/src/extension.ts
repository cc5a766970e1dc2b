// The berth extension: starts `berth lsp`, shows the berth of this window in the
// status bar, and offers its actions. Everything berth knows comes from the server.

import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";

import * as actions from "./actions";
import { berthMarker, type FolderProbe } from "./activation";
import { resolveBerthPath } from "./berthPath";
import { BerthsView } from "./berthsView";
import { commandFolder, FOLDER_COMMANDS, SERVER_ARGS } from "./commands";
import { DATABASE_CLIENTS, SQLTOOLS } from "./connect";
import { type MenuItem, menuItems } from "./menu";
import { type BerthStatus, statusLogLine, statusView, type Tone } from "./status";

let client: LanguageClient | undefined;
let item: vscode.StatusBarItem;
let output: vscode.OutputChannel;
/** Why the server did not start, shown in the status bar until it does. */
let startError: string | undefined;
/** No folder is berth's: no server, no item, until one becomes berth's (or Restart). */
let dormant = false;
/** The user stopped the language server (Stop language server). */
let stopped = false;
/** While dormant: the watches on the folders' berth files. */
let wakers: vscode.Disposable[] = [];
let waking: Promise<void> | undefined;
const statuses = new Map<string, BerthStatus>();
let berths: BerthsView;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("berth");
  item = vscode.window.createStatusBarItem("berth.status", vscode.StatusBarAlignment.Left, 50);
  item.name = "berth";
  item.command = "berth.showMenu";
  berths = new BerthsView({
    whyNot: notRunning,
    status: (folder) => statuses.get(normalize(folder)),
    execute: executeOnServer,
    log,
  });
  berths.register(context);
  context.subscriptions.push(
    output,
    item,
    vscode.window.onDidChangeActiveTextEditor(render),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("berth.showSecrets")) render();
      // A dormant or stopped server stays so: only a running (or failed) one is restarted.
      if (event.affectsConfiguration("berth.path") && (client !== undefined || startError !== undefined)) {
        void restart();
      }
    }),
    vscode.commands.registerCommand("berth.showMenu", showMenu),
    // The server's reset, migrate and provision (workspace/executeCommand) take
    // the folder they act on; these pass it: the palette never means "the first folder".
    ...Object.entries(FOLDER_COMMANDS).map(([command, serverCommand]) =>
      vscode.commands.registerCommand(command, (target?: unknown) => runServer(serverCommand, target)),
    ),
    vscode.commands.registerCommand("berth.forkFromMain", (target?: unknown) =>
      runServer("berth.fork", target, "main"),
    ),
    vscode.commands.registerCommand("berth.snapshotAs", (t?: unknown) => actions.snapshotAs(host, t)),
    vscode.commands.registerCommand("berth.setPath", () =>
      vscode.commands.executeCommand("workbench.action.openSettings", "berth.path"),
    ),
    vscode.commands.registerCommand("berth.install", actions.install),
    vscode.commands.registerCommand("berth.copyUrl", (t?: unknown) => actions.copyUrl(host, t)),
    vscode.commands.registerCommand("berth.openLog", () => output.show(true)),
    vscode.commands.registerCommand("berth.restartServer", restart),
    vscode.commands.registerCommand("berth.stopLanguageServer", stopLanguageServer),
    vscode.commands.registerCommand("berth.createMigration", (t?: unknown) => actions.createMigration(host, t)),
    vscode.commands.registerCommand("berth.previewSql", (t?: unknown) => actions.previewSql(host, t)),
    vscode.commands.registerCommand("berth.schemaDiff", (t?: unknown) => actions.schemaDiff(host, t)),
    vscode.commands.registerCommand("berth.openPsql", (t?: unknown) => actions.openPsql(host, t)),
    vscode.commands.registerCommand("berth.stopPostgres", (t?: unknown) => actions.stopPostgres(host, t)),
    vscode.commands.registerCommand("berth.connectSqltools", (t?: unknown) => actions.connectSqltools(host, t)),
    vscode.commands.registerCommand("berth.connectDatabaseClient", (t?: unknown) =>
      actions.connectDatabaseClient(host, t),
    ),
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      void wake();
      berths.refreshSoon();
    }),
    { dispose: sleepless },
  );
  await wake();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

/** What actions.ts needs of this module. */
const host: actions.Host = {
  cannotRun: () => {
    const why = notRunning();
    if (why !== undefined) void vscode.window.showErrorMessage(why);
    return why;
  },
  targetFolder,
  execute: executeOnServer,
  status: (folder) => statuses.get(normalize(folder)),
  berthPath: (folderPath) =>
    resolveBerthPath(vscode.workspace.getConfiguration("berth").get<string>("path", ""), [folderPath], isExecutable),
  log,
};

/**
 * Start the server once a workspace folder is berth's (VS Code activates the
 * extension for any pyproject.toml); until then stay dormant, watching the files
 * that would make one berth's.
 */
function wake(): Promise<void> {
  // One at a time: a watcher's events and a folder change may come together.
  waking ??= wakeOnce().finally(() => {
    waking = undefined;
  });
  return waking;
}

async function wakeOnce(): Promise<void> {
  if (client !== undefined || stopped || startError !== undefined) return;
  const folders = vscode.workspace.workspaceFolders ?? [];
  const found = folders
    .map((folder) => [folder, berthMarker(probe(folder.uri.fsPath))] as const)
    .find(([, marker]) => marker !== undefined);
  if (found === undefined) {
    if (!dormant) log("no berth here (no berth.toml, .env.berth, [tool.berth] or berth.json): not starting berth lsp");
    dormant = true;
    await vscode.commands.executeCommand("setContext", "berth.active", false);
    watchFolders(folders);
    return;
  }
  log(`${found[0].name}: ${found[1]}`);
  sleepless();
  await start();
}

/** Watch each folder's berth.toml, pyproject.toml and .env.berth; any change may wake berth. */
function watchFolders(folders: readonly vscode.WorkspaceFolder[]): void {
  sleepless();
  for (const folder of folders) {
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(folder, "{berth.toml,pyproject.toml,.env.berth}"),
    );
    watcher.onDidCreate(() => void wake());
    watcher.onDidChange(() => void wake());
    wakers.push(watcher);
  }
}

function sleepless(): void {
  for (const waker of wakers) waker.dispose();
  wakers = [];
}

/** A folder's files, as activation.ts reads them. */
function probe(folder: string): FolderProbe {
  return {
    exists: (name) => fs.existsSync(path.resolve(folder, name)),
    read: (name) => {
      try {
        const file = path.resolve(folder, name);
        return fs.statSync(file).isFile() ? fs.readFileSync(file, "utf8") : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

async function start(): Promise<void> {
  startError = undefined;
  dormant = false;
  stopped = false;
  await vscode.commands.executeCommand("setContext", "berth.active", true);
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const setting = vscode.workspace.getConfiguration("berth").get<string>("path", "");
  const command = resolveBerthPath(setting, folders, isExecutable);
  log(`starting ${command} ${SERVER_ARGS.join(" ")}`);
  const serverOptions: ServerOptions = {
    command,
    // No `transport`: for stdio the client would append `--stdio`; `berth lsp` is stdio already.
    args: [...SERVER_ARGS],
    options: folders.length ? { cwd: folders[0] } : {},
  };
  const clientOptions: LanguageClientOptions = {
    // Migration files, env files and berth.toml can be anything: the server decides.
    documentSelector: [{ scheme: "file" }],
    // One channel for the client's log, the server's stderr and the protocol trace (berth.trace.server).
    outputChannel: output,
    traceOutputChannel: output,
    initializationOptions: { showSecrets: showSecrets() },
    synchronize: { configurationSection: "berth" },
  };
  client = new LanguageClient("berth", "berth", serverOptions, clientOptions);
  client.onNotification("berth/status", (status: BerthStatus) => {
    remember(status);
    render();
    // A reset, a restore, a berth up elsewhere: the view lists them too.
    berths.refreshSoon();
  });
  try {
    await client.start();
  } catch (error) {
    log(`berth lsp did not start: ${String(error)}`);
    client = undefined;
    startError = `could not start \`${command} lsp\`: click to set \`berth.path\` or install berth`;
    render();
    return;
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const status = await client.sendRequest<BerthStatus>("berth/status", {
      folder: folder.uri.toString(),
    });
    if (status) remember(status);
  }
  render();
  berths.refresh();
}

/** Keep the status a folder's server pushed; the log gets a line when its text changes. */
function remember(status: BerthStatus): void {
  const key = normalize(status.folder);
  const before = statuses.get(key);
  const line = statusLogLine(status);
  if (before === undefined || statusLogLine(before) !== line) log(line);
  statuses.set(key, status);
}

function log(line: string): void {
  output.appendLine(`[client ${new Date().toLocaleTimeString()}] ${line}`);
}

/** Stop the server (if any) and start it again, dormant or stopped as it may be: the user asked. */
async function restart(): Promise<void> {
  await client?.stop();
  client = undefined;
  statuses.clear();
  sleepless();
  await start();
}

async function stopLanguageServer(): Promise<void> {
  if (client === undefined) return;
  log("stopping berth lsp (Stop language server)");
  await client.stop();
  client = undefined;
  statuses.clear();
  stopped = true;
  render();
  berths.refresh();
}

function render(): void {
  if (stopped) {
    item.text = "$(debug-stop) berth";
    item.tooltip = new vscode.MarkdownString("**berth**: the language server is stopped. Click to start it.");
    item.accessibilityInformation = { label: "berth: stopped" };
    paint("idle");
    item.show();
    return;
  }
  const status = currentStatus();
  if (status === undefined) {
    if (startError === undefined) {
      item.hide();
      return;
    }
    item.text = "$(error) berth";
    item.tooltip = new vscode.MarkdownString(startError);
    paint("error");
    item.show();
    return;
  }
  const view = statusView(status, showSecrets());
  item.text = view.text;
  item.tooltip = new vscode.MarkdownString(view.tooltip.join("  \n"));
  item.accessibilityInformation = { label: view.text.replace(/\$\([^)]*\)\s*/g, "") };
  paint(view.tone);
  item.show();
}

function paint(tone: Tone): void {
  const background: Record<Tone, string | undefined> = {
    ok: undefined,
    busy: undefined,
    idle: undefined,
    warning: "statusBarItem.warningBackground",
    error: "statusBarItem.errorBackground",
  };
  const name = background[tone];
  item.backgroundColor = name ? new vscode.ThemeColor(name) : undefined;
  item.color = tone === "idle" ? new vscode.ThemeColor("disabledForeground") : undefined;
}

/** The workspace folder of the active editor, if any. */
function activeFolder(): vscode.WorkspaceFolder | undefined {
  const document = vscode.window.activeTextEditor?.document;
  return document ? vscode.workspace.getWorkspaceFolder(document.uri) : undefined;
}

/** The folder the status bar shows: the active editor's, else the first workspace folder. */
function currentFolder(): vscode.WorkspaceFolder | undefined {
  return activeFolder() ?? vscode.workspace.workspaceFolders?.[0];
}

/**
 * The folder (URI) a command acts on: the one it was given (the status bar
 * menu gives the item's), else the active editor's, else the only one, else
 * the one the user picks. Undefined when there is none or the pick was cancelled.
 */
async function targetFolder(target: unknown): Promise<string | undefined> {
  if (typeof target === "string" && target) return target;
  if (target instanceof vscode.Uri) return target.toString();
  const choice = commandFolder(activeFolder(), vscode.workspace.workspaceFolders ?? []);
  if (choice === undefined) {
    void vscode.window.showErrorMessage("berth: open a worktree as a workspace folder first");
    return undefined;
  }
  if ("folder" in choice) return choice.folder.uri.toString();
  const picked = await vscode.window.showWorkspaceFolderPick({ placeHolder: "berth: which worktree?" });
  return picked?.uri.toString();
}

function currentStatus(): BerthStatus | undefined {
  const folder = currentFolder();
  return folder ? statuses.get(normalize(folder.uri.toString())) : undefined;
}

async function showMenu(): Promise<void> {
  // The menu acts on the berth the item shows, whichever editor is active once picked.
  const folder = currentFolder();
  const status = currentStatus();
  const options = {
    cannotStart: status === undefined && startError !== undefined,
    stopped: stopped || dormant,
    sqltools: vscode.extensions.getExtension(SQLTOOLS) !== undefined,
    databaseClient: DATABASE_CLIENTS.some((id) => vscode.extensions.getExtension(id) !== undefined),
  };
  const picked = await vscode.window.showQuickPick(
    menuItems(status, options).map((entry) => ({ ...entry, entry })),
    { title: status?.database?.name ?? "berth", placeHolder: "berth: what should happen?" },
  );
  if (picked) await run(picked.entry, folder);
}

/** Run a menu entry on the folder whose berth the status bar (and so the menu) shows. */
async function run(entry: MenuItem, folder: vscode.WorkspaceFolder | undefined): Promise<void> {
  await vscode.commands.executeCommand(entry.command, ...(folder ? [folder.uri.toString()] : []));
}

/** Why the server's commands cannot run now, or undefined when they can. */
function notRunning(): string | undefined {
  if (dormant) {
    return "berth: no berth in this workspace (no berth.toml, .env.berth or [tool.berth]); berth: Restart the language server starts it anyway";
  }
  if (stopped) {
    return "berth: the language server is stopped (berth: Restart the language server starts it)";
  }
  if (client?.state === State.Starting) {
    return "berth: the language server is still starting; try again in a moment";
  }
  if (client === undefined || !client.isRunning()) {
    return "berth: the language server is not running (see the log, or: berth: Restart the language server)";
  }
  return undefined;
}

/** Run the server's `command` on the folder `target` names (see targetFolder). */
async function runServer(command: string, target: unknown, ...args: unknown[]): Promise<unknown> {
  const why = notRunning();
  if (why !== undefined) {
    void vscode.window.showErrorMessage(why);
    return undefined;
  }
  const folder = await targetFolder(target);
  if (folder === undefined) return undefined;
  return executeOnServer(command, folder, ...args);
}

async function executeOnServer(command: string, folder: string, ...args: unknown[]): Promise<unknown> {
  log(`${command} ${folder}`);
  try {
    const result = await vscode.commands.executeCommand(command, folder, ...args);
    log(`${command} done`);
    return result;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    log(`${command} failed: ${why}`);
    void vscode.window.showErrorMessage(`berth: ${command} failed: ${why}`);
    return undefined;
  }
}

function showSecrets(): boolean {
  return vscode.workspace.getConfiguration("berth").get<boolean>("showSecrets", false);
}

function normalize(uri: string): string {
  return vscode.Uri.parse(uri).toString();
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

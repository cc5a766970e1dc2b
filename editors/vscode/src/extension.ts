// The berth extension: starts `berth lsp`, shows the berth of this window in the
// status bar, and offers its actions. Everything berth knows comes from the server.

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";

import { resolveBerthPath } from "./berthPath";
import { commandFolder, defaultSnapshotName, FOLDER_COMMANDS, SERVER_ARGS, snapshotNameError } from "./commands";
import { INSTALL_COMMANDS, type MenuItem, menuItems } from "./menu";
import { type BerthStatus, statusLogLine, statusView, type Tone } from "./status";

let client: LanguageClient | undefined;
let item: vscode.StatusBarItem;
let output: vscode.OutputChannel;
/** Why the server did not start, shown in the status bar until it does. */
let startError: string | undefined;
const statuses = new Map<string, BerthStatus>();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("berth");
  item = vscode.window.createStatusBarItem("berth.status", vscode.StatusBarAlignment.Left, 50);
  item.name = "berth";
  item.command = "berth.showMenu";
  context.subscriptions.push(
    output,
    item,
    vscode.window.onDidChangeActiveTextEditor(render),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("berth.showSecrets")) render();
      if (event.affectsConfiguration("berth.path")) void restart();
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
    vscode.commands.registerCommand("berth.snapshotAs", snapshotAs),
    vscode.commands.registerCommand("berth.setPath", () =>
      vscode.commands.executeCommand("workbench.action.openSettings", "berth.path"),
    ),
    vscode.commands.registerCommand("berth.install", install),
    vscode.commands.registerCommand("berth.copyUrl", copyUrl),
    vscode.commands.registerCommand("berth.openLog", () => output.show(true)),
    vscode.commands.registerCommand("berth.restartServer", restart),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

async function start(): Promise<void> {
  startError = undefined;
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

async function restart(): Promise<void> {
  await client?.stop();
  client = undefined;
  statuses.clear();
  await start();
}

function render(): void {
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
  const picked = await vscode.window.showQuickPick(
    menuItems(status, status === undefined && startError !== undefined).map((entry) => ({ ...entry, entry })),
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

async function snapshotAs(target?: unknown): Promise<void> {
  const why = notRunning();
  if (why !== undefined) {
    void vscode.window.showErrorMessage(why);
    return;
  }
  const folder = await targetFolder(target);
  if (folder === undefined) return;
  const branch = statuses.get(normalize(folder))?.branch;
  const name = await vscode.window.showInputBox({
    title: "berth: snapshot",
    // The name the server's snapshot code action proposes.
    value: defaultSnapshotName(branch, new Date()),
    prompt: "Name of the baseline (new berths can start from it with `berth up --baseline NAME`)",
    validateInput: snapshotNameError,
  });
  if (name) await executeOnServer("berth.snapshot", folder, name.trim());
}

/** Offer the commands that install berth; the picked one is copied, or run in a terminal. */
async function install(): Promise<void> {
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

async function copyUrl(target?: unknown): Promise<void> {
  const url = await runServer("berth.copyDatabaseUrl", target);
  if (typeof url === "string" && url) {
    await vscode.env.clipboard.writeText(url);
    void vscode.window.showInformationMessage("berth: DATABASE_URL copied");
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

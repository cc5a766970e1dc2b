// The berth extension: starts `berth lsp`, shows the berth of this window in the
// status bar, and offers its actions. Everything berth knows comes from the server.

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";

import { resolveBerthPath } from "./berthPath";
import { type MenuItem, menuItems } from "./menu";
import { type BerthStatus, statusView, type Tone } from "./status";

// Commands the server executes (workspace/executeCommand); the client registers
// them when it starts, from the server's capabilities.
const SERVER_COMMANDS = new Set(["berth.reset", "berth.migrate", "berth.provision"]);

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
    vscode.commands.registerCommand("berth.forkFromMain", () => runServer("berth.fork", "main")),
    vscode.commands.registerCommand("berth.snapshotAs", snapshotAs),
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
  output.appendLine(`starting ${command} lsp`);
  const serverOptions: ServerOptions = {
    command,
    // No `transport`: for stdio the client would append `--stdio`; `berth lsp` is stdio already.
    args: ["lsp"],
    options: folders.length ? { cwd: folders[0] } : {},
  };
  const clientOptions: LanguageClientOptions = {
    // Migration files, env files and berth.toml can be anything: the server decides.
    documentSelector: [{ scheme: "file" }],
    outputChannel: output,
    initializationOptions: { showSecrets: showSecrets() },
    synchronize: { configurationSection: "berth" },
  };
  client = new LanguageClient("berth", "berth", serverOptions, clientOptions);
  client.onNotification("berth/status", (status: BerthStatus) => {
    statuses.set(normalize(status.folder), status);
    render();
  });
  try {
    await client.start();
  } catch (error) {
    output.appendLine(`berth lsp did not start: ${String(error)}`);
    client = undefined;
    startError = `could not start \`${command} lsp\`: set \`berth.path\`, see the log`;
    render();
    return;
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const status = await client.sendRequest<BerthStatus>("berth/status", {
      folder: folder.uri.toString(),
    });
    if (status) statuses.set(normalize(status.folder), status);
  }
  render();
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

/** The folder of the active editor, else the first workspace folder. */
function currentFolder(): vscode.WorkspaceFolder | undefined {
  const document = vscode.window.activeTextEditor?.document;
  const folder = document ? vscode.workspace.getWorkspaceFolder(document.uri) : undefined;
  return folder ?? vscode.workspace.workspaceFolders?.[0];
}

function currentStatus(): BerthStatus | undefined {
  const folder = currentFolder();
  return folder ? statuses.get(normalize(folder.uri.toString())) : undefined;
}

async function showMenu(): Promise<void> {
  const status = currentStatus();
  const picked = await vscode.window.showQuickPick(
    menuItems(status).map((entry) => ({ ...entry, entry })),
    { title: status?.database?.name ?? "berth", placeHolder: "berth: what should happen?" },
  );
  if (picked) await run(picked.entry);
}

async function run(entry: MenuItem): Promise<void> {
  if (SERVER_COMMANDS.has(entry.command)) {
    await runServer(entry.command);
  } else {
    await vscode.commands.executeCommand(entry.command);
  }
}

async function runServer(command: string, ...args: unknown[]): Promise<unknown> {
  if (client === undefined) {
    void vscode.window.showErrorMessage("berth: the language server is not running (see the log)");
    return undefined;
  }
  const folder = currentFolder()?.uri.toString();
  return vscode.commands.executeCommand(command, folder, ...args);
}

async function snapshotAs(): Promise<void> {
  const name = await vscode.window.showInputBox({
    title: "berth: snapshot",
    prompt: "Name of the baseline (new berths can start from it with `berth up --baseline NAME`)",
    validateInput: (value) => (/^[\w.-]+$/.test(value) ? undefined : "letters, digits, _, . and - only"),
  });
  if (name) await runServer("berth.snapshot", name);
}

async function copyUrl(): Promise<void> {
  const url = await runServer("berth.copyDatabaseUrl");
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

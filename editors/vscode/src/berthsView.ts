// The Berths view (its own activity bar container): what berths.ts builds from
// the server's `berth.berths`, as a tree; Open app on a port, Restore on a
// trash entry, a refresh button. Refreshed on each `berth/status` too.

import * as vscode from "vscode";

import {
  type BerthsNode,
  berthsTree,
  foldersToList,
  isBerthsResult,
  type ProjectBerths,
  restoreQuestion,
} from "./berths";
import type { BerthStatus } from "./status";

export const VIEW_ID = "berth.berths";

/** What the view needs of the extension. */
export interface ViewHost {
  /** Why the server's commands cannot run now, or undefined when they can (never shown). */
  whyNot(): string | undefined;
  status(folder: string): BerthStatus | undefined;
  /** Run the server's `command` on `folder`; undefined when it failed (the user was told). */
  execute(command: string, folder: string, ...args: unknown[]): Promise<unknown>;
  log(line: string): void;
}

/** Status notifications come in bursts (a reset: provisioning, then ready): one refresh per burst. */
const SETTLE_MS = 300;

export class BerthsView implements vscode.TreeDataProvider<BerthsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<BerthsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private view: vscode.TreeView<BerthsNode> | undefined;

  constructor(private readonly host: ViewHost) {}

  /** Create the tree view and register its commands. */
  register(context: vscode.ExtensionContext): void {
    this.view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this, showCollapseAll: true });
    context.subscriptions.push(
      this,
      this.view,
      vscode.commands.registerCommand("berth.refreshBerths", () => this.refresh()),
      vscode.commands.registerCommand("berth.openApp", (node?: BerthsNode) => this.openApp(node)),
      vscode.commands.registerCommand("berth.restoreTrash", (node?: BerthsNode) => this.restore(node)),
    );
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.changed.dispose();
  }

  /** Read the berths again now (VS Code asks only while the view is visible). */
  refresh(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.changed.fire(undefined);
  }

  /** Refresh once the burst of notifications this one belongs to is over. */
  refreshSoon(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), SETTLE_MS);
  }

  getTreeItem(node: BerthsNode): vscode.TreeItem {
    const state =
      node.children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : node.expanded
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip.length ? new vscode.MarkdownString(node.tooltip.join("  \n")) : undefined;
    item.iconPath = new vscode.ThemeIcon(node.icon, node.iconColor ? new vscode.ThemeColor(node.iconColor) : undefined);
    item.contextValue = node.contextValue;
    item.accessibilityInformation = { label: node.aria };
    return item;
  }

  async getChildren(node?: BerthsNode): Promise<BerthsNode[]> {
    if (node !== undefined) return node.children;
    const why = this.host.whyNot();
    if (why !== undefined) {
      this.show(undefined, why);
      return [];
    }
    const folders = foldersToList(vscode.workspace.workspaceFolders ?? [], (f) => this.host.status(f.uri.toString()));
    const projects: ProjectBerths[] = [];
    for (const folder of folders) {
      // Not host.execute: a refresh is not a user's command, and is not logged as one.
      try {
        const data = await vscode.commands.executeCommand<unknown>("berth.berths", folder.uri.toString());
        if (isBerthsResult(data)) projects.push({ folder: folder.uri.toString(), data });
      } catch (error) {
        this.host.log(`berth.berths ${folder.uri.toString()} failed: ${String(error)}`);
      }
    }
    if (projects.length === 0) {
      this.show(undefined, folders.length ? "berth could not list the berths (see the log)" : "no berth project in this window yet");
      return [];
    }
    this.show(projects.length === 1 ? projects[0].data.project : undefined, undefined);
    const open = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    return berthsTree(projects, open);
  }

  private show(description: string | undefined, message: string | undefined): void {
    if (this.view === undefined) return;
    this.view.description = description;
    this.view.message = message;
  }

  private async openApp(node?: BerthsNode): Promise<void> {
    if (node?.url === undefined) return;
    this.host.log(`open app ${node.url}`);
    await vscode.env.openExternal(vscode.Uri.parse(node.url));
  }

  private async restore(node?: BerthsNode): Promise<void> {
    if (node?.trash === undefined) return;
    const why = this.host.whyNot();
    if (why !== undefined) {
      void vscode.window.showErrorMessage(why);
      return;
    }
    const question = restoreQuestion(node);
    const answer = await vscode.window.showWarningMessage(
      question.message,
      { modal: true, detail: question.detail },
      "Restore",
    );
    if (answer !== "Restore") return;
    await this.host.execute("berth.restore", node.folder, node.trash);
    this.refresh();
  }
}

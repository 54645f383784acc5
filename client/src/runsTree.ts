import * as path from 'node:path';
import * as vscode from 'vscode';
import { listRuns } from '../../common/src/protocol';
import type { RunStatus, RunSummary } from '../../common/src/protocol';
import type { Backend } from './backend';
import { errorMessage } from './errors';
import type { Settings } from './settings';

export interface RunNode {
  kind: 'run';
  run: RunSummary;
}

const STATUS_ICONS: Record<RunStatus, [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'testing.iconPassed'],
  cancelled: ['circle-slash', 'charts.yellow'],
  failed: ['error', 'testing.iconFailed'],
  interrupted: ['debug-pause', 'charts.orange'],
};

/**
 * Runs view: the run folders in the runs directory with status, backbone, epochs, best validation and test accuracy.
 * Refreshes on training events and whenever files change in the runs directory.
 */
export class RunsTree implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<RunNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private runs: RunSummary[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly settings: Settings,
  ) {
    // Several runs can be selected, for Compare Runs.
    this.view = vscode.window.createTreeView('cxr.runs', { treeDataProvider: this, canSelectMany: true });
    this.watchRunsDirectory();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cxr.runsDirectory')) {
          this.watchRunsDirectory();
          this.refresh();
        }
        if (e.affectsConfiguration('cxr.activeModel')) this.changed.fire(undefined);
      }),
      backend.onTrainEvent(({ event }) => {
        if (event.kind === 'epoch' || event.kind === 'phase') this.refreshSoon();
      }),
    );
  }

  get lastRuns(): RunSummary[] {
    return this.runs;
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** Debounced refresh: a training writes several files per epoch. */
  refreshSoon(delayMs = 600): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, delayMs);
  }

  private watchRunsDirectory(): void {
    for (const w of this.watchers) w.dispose();
    const root = vscode.Uri.file(this.settings.runsDirectory);
    // Run folders appearing or disappearing, and the JSON files a run rewrites (status, history, evaluation).
    const folders = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(root, '*'));
    const files = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(root, '*/**/*.json'));
    this.watchers = [folders, files];
    for (const w of [folders, files]) {
      w.onDidCreate(() => this.refreshSoon());
      w.onDidChange(() => this.refreshSoon());
      w.onDidDelete(() => this.refreshSoon());
    }
  }

  /** The runs in the runs directory, newest first. */
  async listRuns(): Promise<RunSummary[]> {
    this.runs = await this.backend.request(listRuns, { runsRoot: this.settings.runsDirectory });
    return this.runs;
  }

  async getChildren(node?: RunNode): Promise<RunNode[]> {
    if (node) return [];
    try {
      const runs = await this.listRuns();
      this.view.message = undefined;
      return runs.map((run) => ({ kind: 'run', run }));
    } catch (e) {
      this.view.message = `Could not list runs: ${errorMessage(e)}`;
      return [];
    }
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    const r = node.run;
    const active = isSamePath(this.settings.activeModel, r.runDir);
    const item = new vscode.TreeItem(runLabel(r), vscode.TreeItemCollapsibleState.None);
    item.id = `run:${r.runDir}`;
    item.description = runDescription(r, active);
    const [icon, color] = STATUS_ICONS[r.status] ?? ['circle-outline', undefined];
    item.iconPath = active && r.status !== 'running' ? new vscode.ThemeIcon('star-full', new vscode.ThemeColor('charts.yellow')) : new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.tooltip = runTooltip(r, active);
    // run.<status>[.model][.active]: menus offer Evaluate and Set as Active Model only to runs with a model.
    item.contextValue = `run.${r.status}${r.hasModel ? '.model' : ''}${active ? '.active' : ''}`;
    item.resourceUri = vscode.Uri.file(r.runDir);
    item.command = { command: 'cxr.openDashboard', title: 'Open Training Dashboard', arguments: [node] };
    return item;
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of [...this.watchers, ...this.disposables]) d.dispose();
    this.view.dispose();
    this.changed.dispose();
  }
}

function pct(v: number | null): string {
  return v === null ? '–' : `${(v * 100).toFixed(1)}%`;
}

export function runDescription(r: RunSummary, active = false): string {
  const parts = [r.backbone, `${r.epochsRun}/${r.epochs} ep`];
  if (r.bestValAccuracy !== null) parts.push(`val ${pct(r.bestValAccuracy)}`);
  if (r.testAccuracy !== null) parts.push(`test ${pct(r.testAccuracy)}`);
  if (r.status !== 'completed') parts.push(r.status);
  if (active) parts.push('active');
  if (r.tags.length > 0) parts.push(r.tags.map((t) => `#${t}`).join(' '));
  return parts.join(' · ');
}

/** The name a run is shown by: the one the user gave it, else its folder's. */
export function runLabel(r: RunSummary): string {
  return r.displayName ?? r.name;
}

function runTooltip(r: RunSummary, active: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escapeMarkdown(runLabel(r))}**${active ? ' $(star-full) active model' : ''}\n\n`);
  md.appendMarkdown(
    [
      `Status: ${r.status}`,
      `Backbone: ${r.backbone}`,
      `Epochs: ${r.epochsRun} of ${r.epochs}${r.bestEpoch !== null ? ` (best ${r.bestEpoch})` : ''}`,
      `Best validation accuracy: ${pct(r.bestValAccuracy)}`,
      `Test accuracy: ${pct(r.testAccuracy)}`,
      `Classes: ${r.classes.join(', ')}`,
      `Created: ${r.createdAt}`,
      ...(r.displayName !== null ? [`Folder: ${escapeMarkdown(r.name)}`] : []),
      ...(r.tags.length > 0 ? [`Tags: ${r.tags.map(escapeMarkdown).join(', ')}`] : []),
    ].join('  \n'),
  );
  if (r.notes) {
    md.appendMarkdown('\n\n**Notes**\n\n');
    md.appendText(r.notes);
  }
  md.appendMarkdown('\n\n');
  md.appendText(r.runDir);
  return md;
}

/** User text shown as Markdown: every character Markdown could read as syntax is escaped. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>$~]/g, '\\$&');
}

export function isSamePath(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  return path.resolve(a) === path.resolve(b);
}

/** The run a tree node or command argument refers to. */
export function runOfNode(arg: unknown): RunSummary | undefined {
  if (typeof arg === 'object' && arg !== null && (arg as RunNode).kind === 'run') return (arg as RunNode).run;
  return undefined;
}

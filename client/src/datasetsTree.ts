import * as path from 'node:path';
import * as vscode from 'vscode';
import { datasetImages, IMAGE_EXTENSIONS, scanDatasets } from '../../common/src/protocol';
import type { AuditFinding, AuditResponse, DatasetSplitName, DatasetSummary, LastAuditResult } from '../../common/src/protocol';
import type { Backend } from './backend';
import { datasetLabel, datasetPlaces } from './datasetNames';
import { errorMessage } from './errors';
import type { Settings } from './settings';

const SPLITS: DatasetSplitName[] = ['train', 'test', 'unassigned'];

type Node =
  | { kind: 'dataset'; dataset: DatasetSummary }
  | { kind: 'class'; dataset: DatasetSummary; className: string }
  | { kind: 'image'; file: string; split: string }
  | { kind: 'finding'; dataset: string; finding: AuditFinding; index: number; audit: Pick<LastAuditResult, 'auditedAt' | 'changedSince'> };

/**
 * Datasets view: every `train|test/<class>` folder and CSV manifest the backend finds under the workspace folders and
 * cxr.dataRoots. Dataset -> class ("train N · test M") -> images, which open in the editor on click.
 */
export class DatasetsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<Node>;
  private datasetsPromise: Promise<DatasetSummary[]> | undefined;
  private lastDatasets: DatasetSummary[] = [];
  /** Where the datasets that share a name lie (two copies of one dataset), to tell their rows apart. */
  private places = new Map<string, string>();
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private latestAuditOf: (dataset: string) => Promise<LastAuditResult | null> = async () => null;

  constructor(
    private readonly backend: Backend,
    private readonly settings: Settings,
  ) {
    this.view = vscode.window.createTreeView('cxr.datasets', { treeDataProvider: this, showCollapseAll: true });
    this.watchDatasetRoots();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cxr.dataRoots')) this.watchDatasetRoots();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.watchDatasetRoots()),
    );
  }

  /** The datasets of the latest scan (scanning first if none ran yet). */
  async datasets(): Promise<DatasetSummary[]> {
    return this.datasetsPromise ?? this.scan();
  }

  get cached(): DatasetSummary[] {
    return this.lastDatasets;
  }

  /** The dataset split folder (`<dataset>/train` or `/test`) that `file` lies in, among the datasets last scanned. */
  splitFolderOf(file: string): string | undefined {
    const target = path.resolve(file);
    for (const d of this.lastDatasets) {
      if (d.source !== 'folders') continue;
      for (const split of ['train', 'test']) {
        const dir = path.join(d.path, split);
        const rel = path.relative(dir, target);
        if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return dir;
      }
    }
    return undefined;
  }

  /** Lists the findings of each dataset's latest audit (this session's or a stored one) under it, after its classes. */
  showFindingsOf(audits: { latestAudit(dataset: string): Promise<LastAuditResult | null>; onDidAudit: vscode.Event<AuditResponse> }): void {
    this.latestAuditOf = (dataset) => audits.latestAudit(dataset);
    this.disposables.push(audits.onDidAudit(() => this.changed.fire(undefined)));
  }

  refresh(): void {
    this.datasetsPromise = undefined;
    this.changed.fire(undefined);
  }

  private scan(): Promise<DatasetSummary[]> {
    const roots = this.settings.datasetSearchRoots();
    const run = async (): Promise<DatasetSummary[]> => {
      if (roots.length === 0) return [];
      this.view.message = 'Scanning for datasets…';
      try {
        const found = await this.backend.request(scanDatasets, { roots });
        this.view.message = undefined;
        return found;
      } catch (e) {
        this.backend.output.error(`Dataset scan failed: ${errorMessage(e)}`);
        this.view.message = `Could not scan for datasets: ${errorMessage(e)}`;
        this.datasetsPromise = undefined; // try again on the next expand/refresh
        return [];
      }
    };
    this.datasetsPromise = run().then((found) => {
      this.places = datasetPlaces(found);
      return (this.lastDatasets = found);
    });
    return this.datasetsPromise;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return (await this.datasets()).map((dataset) => ({ kind: 'dataset', dataset }));
    if (node.kind === 'dataset') {
      const classes: Node[] = node.dataset.classes.map((className) => ({ kind: 'class', dataset: node.dataset, className }));
      const last = await this.latestAuditOf(node.dataset.path);
      const audit = { auditedAt: last?.auditedAt ?? '', changedSince: last?.changedSince ?? false };
      const findings: Node[] = (last?.result.findings ?? []).map((finding, index) => ({ kind: 'finding', dataset: node.dataset.path, finding, index, audit }));
      return [...classes, ...findings];
    }
    if (node.kind === 'class') return this.imagesOf(node.dataset, node.className);
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'dataset': {
        const d = node.dataset;
        const item = new vscode.TreeItem(datasetLabel(d), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `dataset:${d.path}`;
        const place = this.places.get(d.path);
        item.description = `${d.source === 'csv' ? 'CSV' : 'folders'} · ${d.total} images${place ? ` · in ${place}` : ''}`;
        item.tooltip = new vscode.MarkdownString(
          `**${datasetLabel(d)}**\n\n\`${d.path}\`\n\n${d.classes.length} classes: ${d.classes.join(', ')}\n\n${splitSummary(d)}`,
        );
        item.iconPath = new vscode.ThemeIcon(d.source === 'csv' ? 'table' : 'database');
        item.contextValue = `dataset.${d.source}`;
        item.resourceUri = vscode.Uri.file(d.path);
        return item;
      }
      case 'class': {
        const counts = SPLITS.map((s) => [s, node.dataset.counts[s]?.[node.className]] as const).filter(([, n]) => n !== undefined);
        const item = new vscode.TreeItem(node.className, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `class:${node.dataset.path}:${node.className}`;
        item.description = counts.map(([s, n]) => `${s} ${n}`).join(' · ');
        item.iconPath = new vscode.ThemeIcon('tag');
        item.contextValue = 'datasetClass';
        return item;
      }
      case 'finding': {
        const f = node.finding;
        const item = new vscode.TreeItem(`${f.severity}: ${f.kind}`, vscode.TreeItemCollapsibleState.None);
        item.id = `finding:${node.dataset}:${node.index}`;
        item.description = f.message;
        item.tooltip = `${f.message}\n\n${auditAge(node.audit)}`;
        item.iconPath = new vscode.ThemeIcon(f.severity === 'critical' ? 'error' : f.severity === 'warning' ? 'warning' : 'info');
        item.contextValue = 'auditFinding';
        item.accessibilityInformation = { label: `Audit finding, ${f.severity}: ${f.message}`, role: 'treeitem' };
        return item;
      }
      case 'image': {
        const uri = vscode.Uri.file(node.file);
        const item = new vscode.TreeItem(path.basename(node.file), vscode.TreeItemCollapsibleState.None);
        item.id = `image:${node.file}`;
        item.resourceUri = uri;
        item.description = node.split;
        item.tooltip = node.file;
        item.contextValue = 'datasetImage';
        item.command = { command: 'vscode.open', title: 'Open Image', arguments: [uri] };
        return item;
      }
    }
  }

  /** The class's images as the backend lists them (folder datasets and CSV manifests alike). */
  private async imagesOf(dataset: DatasetSummary, className: string): Promise<Node[]> {
    try {
      const images = await this.backend.request(datasetImages, { dataset: dataset.path, className });
      return images.map((i) => ({ kind: 'image', file: i.file, split: i.split }));
    } catch (e) {
      this.backend.output.error(`Listing the ${className} images of ${dataset.path} failed: ${errorMessage(e)}`);
      return [];
    }
  }

  /** Rescans (debounced) when images or CSV files appear or disappear under the dataset search roots. */
  private watchDatasetRoots(): void {
    for (const w of this.watchers) w.dispose();
    const pattern = `**/*.{csv,${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join(',')}}`;
    this.watchers = this.settings.datasetSearchRoots().map((root) => {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), pattern), false, true, false);
      watcher.onDidCreate(() => this.refreshSoon());
      watcher.onDidDelete(() => this.refreshSoon());
      return watcher;
    });
  }

  /** Debounced refresh: copying a folder of images fires one event per file. */
  refreshSoon(delayMs = 800): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, delayMs);
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of [...this.watchers, ...this.disposables]) d.dispose();
    this.view.dispose();
    this.changed.dispose();
  }
}

export { datasetLabel };

function splitSummary(d: DatasetSummary): string {
  return SPLITS.filter((s) => d.counts[s])
    .map((s) => `${s}: ${Object.values(d.counts[s] ?? {}).reduce((a, b) => a + b, 0)}`)
    .join(' · ');
}

/** The dataset a tree node (passed to a command from the view's context menu) refers to. */
export function datasetOfNode(arg: unknown): DatasetSummary | undefined {
  if (typeof arg === 'object' && arg !== null && (arg as Node).kind === 'dataset') return (arg as { dataset: DatasetSummary }).dataset;
  return undefined;
}

/** "From the audit of <local date and time>", and a warning when the dataset's files changed since. */
export function auditAge(audit: Pick<LastAuditResult, 'auditedAt' | 'changedSince'>): string {
  const when = new Date(audit.auditedAt).toLocaleString();
  return `From the audit of ${when}.${audit.changedSince ? " The dataset's files changed since: audit it again." : ''}`;
}

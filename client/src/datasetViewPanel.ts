import * as path from 'node:path';
import * as vscode from 'vscode';
import { datasetImages, thumbnails } from '../../common/src/protocol';
import type { DatasetImage, DatasetSplitName, DatasetSummary } from '../../common/src/protocol';
import {
  DATASET_THUMB_SIZE,
  THUMBS_PER_GROUP,
  type DatasetViewFromWebview,
  type DatasetViewGroup,
  type DatasetViewState,
  type DatasetViewToWebview,
} from '../../common/src/datasetView';
import type { AuditCommand } from './audit';
import type { Backend } from './backend';
import { auditAge, datasetLabel, datasetOfNode, type DatasetsTree } from './datasetsTree';
import { errorMessage } from './errors';
import { SingleCxrPanel } from './webviewHtml';

const SPLIT_ORDER: DatasetSplitName[] = ['train', 'test', 'unassigned'];
/** The backend answers at most this many thumbnails per request. */
const THUMBNAIL_BATCH = 200;

/**
 * `cxr.openDatasetView`: one dataset's images as small thumbnails the backend makes (per class and split, the first
 * THUMBS_PER_GROUP of each), its class balance, and the findings of its latest audit.
 */
export class DatasetViewPanel implements vscode.Disposable {
  private readonly single: SingleCxrPanel<DatasetViewFromWebview, DatasetViewToWebview>;
  private state: DatasetViewState | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    extensionUri: vscode.Uri,
    private readonly backend: Backend,
    private readonly datasets: DatasetsTree,
    private readonly audit: AuditCommand,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.dataset',
      entry: 'dataset',
      onReady: () => void this.post(),
      onMessage: (m) => void this.onMessage(m),
      onDispose: () => (this.state = undefined),
    });
    this.disposables.push(
      audit.onDidAudit((result) => {
        if (this.state && path.resolve(result.data) === path.resolve(this.state.dataset.path)) {
          this.state.findings = result.findings;
          this.state.auditAge = auditAge({ auditedAt: new Date().toISOString(), changedSince: false });
          void this.post();
        }
      }),
      vscode.window.registerWebviewPanelSerializer('cxr.dataset', {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, saved: unknown) => {
          const dataset = (saved as Partial<DatasetViewState> | undefined)?.dataset;
          if (this.single.panel || !dataset?.path) {
            panel.dispose();
            return;
          }
          this.single.restore(panel, this.title(dataset));
          void this.load(dataset);
        },
      }),
    );
  }

  async open(arg?: unknown): Promise<void> {
    const dataset = datasetOfNode(arg) ?? (await this.pick());
    if (!dataset) return;
    this.single.show(this.title(dataset));
    await this.load(dataset);
  }

  private title(d: DatasetSummary): string {
    return `Dataset: ${datasetLabel(d)}`;
  }

  private async pick(): Promise<DatasetSummary | undefined> {
    const all = await this.datasets.datasets();
    const picked = await vscode.window.showQuickPick(
      all.map((d) => ({ label: datasetLabel(d), description: `${d.classes.length} classes · ${d.total} images`, detail: d.path, dataset: d })),
      { title: 'Open which dataset?', matchOnDetail: true },
    );
    return picked?.dataset;
  }

  private async load(dataset: DatasetSummary): Promise<void> {
    const state: DatasetViewState = {
      dataset,
      label: datasetLabel(dataset),
      groups: [],
      loading: true,
      error: null,
      findings: null,
      auditAge: null,
    };
    const last = await this.audit.latestAudit(dataset.path);
    if (last) {
      state.findings = last.result.findings;
      state.auditAge = auditAge(last);
    }
    this.state = state;
    await this.post();
    try {
      const images = await this.backend.request(datasetImages, { dataset: dataset.path });
      state.groups = groupImages(images, dataset);
      // Counts from the listing itself: a dataset summary from an older scan may be stale.
      await this.post();
      const wanted = state.groups.flatMap((g) => g.thumbs);
      for (let i = 0; i < wanted.length; i += THUMBNAIL_BATCH) {
        const batch = wanted.slice(i, i + THUMBNAIL_BATCH);
        const made = await this.backend.request(thumbnails, { files: batch.map((t) => t.file), size: DATASET_THUMB_SIZE });
        made.forEach((m, j) => {
          batch[j].src = m.dataUrl;
          if (m.error) batch[j].error = m.error;
        });
      }
    } catch (e) {
      state.error = `Could not show ${datasetLabel(dataset)}: ${errorMessage(e)}`;
    }
    state.loading = false;
    if (this.state === state) await this.post();
  }

  private async onMessage(m: Exclude<DatasetViewFromWebview, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'openImage':
        if (this.state?.groups.some((g) => g.thumbs.some((t) => t.file === m.file))) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(m.file));
        return;
      case 'audit':
        if (this.state) await vscode.commands.executeCommand('cxr.auditDataset', this.state.dataset.path);
        return;
    }
  }

  private async post(): Promise<void> {
    if (!this.state) return;
    await this.single.post({ type: 'state', state: this.state });
  }

  dispose(): void {
    this.single.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** Images grouped by split, then class (the dataset's class order), each group with its first thumbnails to make. */
export function groupImages(images: readonly DatasetImage[], dataset: DatasetSummary): DatasetViewGroup[] {
  const groups: DatasetViewGroup[] = [];
  for (const split of SPLIT_ORDER) {
    for (const className of dataset.classes) {
      const files = images.filter((i) => i.split === split && i.label === className).map((i) => i.file);
      if (files.length === 0) continue;
      groups.push({
        split,
        className,
        count: files.length,
        thumbs: files.slice(0, THUMBS_PER_GROUP).map((file) => ({ file, name: path.basename(file), src: null })),
      });
    }
  }
  return groups;
}

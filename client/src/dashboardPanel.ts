import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EpochMetrics, RunStatus, TrainEvent } from '../../common/src/protocol';
import {
  DashboardFromWebview,
  DashboardRunInfo,
  DashboardState,
  DashboardToWebview,
  emptyDashboardState,
} from '../../common/src/webviewProtocol';
import { readJsonIfExists, readRunConfig } from './runs';
import { createCxrPanel, webviewOptions } from './webviewHtml';

export interface DashboardActions {
  /** The live state of a run trained in this session, if any. */
  liveState(runDir: string): DashboardState | undefined;
  cancel(runDir: string): Promise<void>;
  evaluate(runDir: string): void;
  showLogs(): void;
}

/**
 * The training dashboard (`cxr.dashboard`), one panel showing one run. The webview asks for the state with `ready`
 * each time it loads (first open and every reveal, since it is not kept alive while hidden) and then follows
 * incremental train events.
 */
export class DashboardPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private runDir: string | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly actions: DashboardActions,
  ) {}

  show(runDir: string, preserveFocus = false): void {
    this.runDir = path.resolve(runDir);
    const title = `Training: ${path.basename(this.runDir)}`;
    if (this.panel) {
      this.panel.title = title;
      this.panel.reveal(undefined, preserveFocus);
      void this.postState();
      return;
    }
    this.panel = createCxrPanel<DashboardFromWebview>(this.extensionUri, {
      viewType: 'cxr.dashboard',
      entry: 'dashboard',
      title,
      showOptions: { viewColumn: vscode.ViewColumn.Active, preserveFocus },
      options: webviewOptions(this.extensionUri),
      onMessage: (m) => this.onMessage(m),
      onDispose: () => {
        this.panel = undefined;
      },
    });
  }

  /** Closes the panel if it shows `runDir` (a deleted run has nothing left to show). */
  closeIfShowing(runDir: string): void {
    if (this.panel && this.runDir === path.resolve(runDir)) this.panel.dispose();
  }

  get visibleRun(): string | undefined {
    return this.panel ? this.runDir : undefined;
  }

  private onMessage(message: DashboardFromWebview): void {
    const runDir = this.runDir;
    switch (message.type) {
      case 'ready':
        void this.postState();
        break;
      case 'cancel':
        if (runDir) void this.actions.cancel(runDir);
        break;
      case 'evaluate':
        if (runDir) this.actions.evaluate(runDir);
        break;
      case 'showLogs':
        this.actions.showLogs();
        break;
    }
  }

  /** Forwards one training event if this panel shows that run. */
  trainEvent(runDir: string, event: TrainEvent): void {
    if (this.panel && this.runDir === path.resolve(runDir)) void this.post({ type: 'trainEvent', runDir: this.runDir, event });
  }

  /** Re-sends the whole state (after a training ends or is being cancelled). */
  refresh(runDir: string): void {
    if (this.panel && this.runDir === path.resolve(runDir)) void this.postState();
  }

  private async postState(): Promise<void> {
    const runDir = this.runDir;
    if (!runDir) return;
    const state = this.actions.liveState(runDir) ?? (await loadDashboardState(runDir));
    if (runDir === this.runDir) await this.post({ type: 'state', state });
  }

  private async post(message: DashboardToWebview): Promise<void> {
    await this.panel?.webview.postMessage(message);
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

interface StatusFile {
  status: RunStatus;
  epochs?: number;
  bestEpoch: number | null;
  message?: string;
}

/** The dashboard of a run that is not training in this session, from its run folder. */
export async function loadDashboardState(runDir: string): Promise<DashboardState> {
  const info = await loadRunInfo(runDir);
  const state = emptyDashboardState(info);
  state.epochs = (await readJsonIfExists<EpochMetrics[]>(path.join(runDir, 'history.json'))) ?? [];
  const status = await readJsonIfExists<StatusFile>(path.join(runDir, 'status.json'));
  if (status) {
    // A 'running' status from a process that is gone is an interrupted run; this window is not training it.
    state.status = status.status === 'running' ? 'interrupted' : status.status;
    state.bestEpoch = status.bestEpoch;
    if (status.status === 'failed' && status.message) state.error = status.message;
  }
  if (!info) state.error = `${runDir} has no readable config.json; it may not be a CXR Studio run folder.`;
  return state;
}

export async function loadRunInfo(runDir: string): Promise<DashboardRunInfo | null> {
  try {
    const c = await readRunConfig(runDir);
    return {
      runDir: path.resolve(runDir),
      name: path.basename(runDir),
      backbone: c.backbone,
      data: c.data,
      epochs: c.epochs,
      batchSize: c.batchSize,
      learningRate: c.learningRate,
      classes: c.classes,
      createdAt: c.createdAt,
    };
  } catch {
    return null;
  }
}

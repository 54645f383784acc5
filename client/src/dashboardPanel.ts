import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunDetails, TrainEvent } from '../../common/src/protocol';
import {
  DashboardFromWebview,
  DashboardRunInfo,
  DashboardState,
  DashboardToWebview,
  emptyDashboardState,
} from '../../common/src/webviewProtocol';
import { errorMessage } from './errors';
import { SingleCxrPanel } from './webviewHtml';

export interface DashboardActions {
  /** The live state of a run trained in this session, if any. */
  liveState(runDir: string): DashboardState | undefined;
  details(runDir: string): Promise<RunDetails>;
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
  private readonly single: SingleCxrPanel<DashboardFromWebview, DashboardToWebview>;
  private runDir: string | undefined;
  private restoredBatches: { runDir: string; batches: DashboardState['batches'] } | undefined;

  constructor(
    extensionUri: vscode.Uri,
    private readonly actions: DashboardActions,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.dashboard',
      entry: 'dashboard',
      onReady: () => void this.postState(),
      onMessage: (m) => this.onMessage(m),
    });
  }

  private get panel(): vscode.WebviewPanel | undefined {
    return this.single.panel;
  }

  show(runDir: string, preserveFocus = false): void {
    this.runDir = path.resolve(runDir);
    if (!this.single.show(`Training: ${path.basename(this.runDir)}`, { preserveFocus })) void this.postState();
  }

  /**
   * A dashboard VS Code restored after a window reload: it shows the run it showed, from the run store, with the
   * per-batch curve the webview had saved (the run store keeps epochs only).
   */
  restore(panel: vscode.WebviewPanel, saved: DashboardState | undefined): void {
    const runDir = saved?.run?.runDir;
    if (!runDir || this.panel) {
      panel.dispose();
      return;
    }
    this.runDir = path.resolve(runDir);
    this.restoredBatches = { runDir: this.runDir, batches: saved.batches ?? [] };
    this.single.restore(panel, `Training: ${path.basename(this.runDir)}`);
  }

  /** Closes the panel if it shows `runDir` (a deleted run has nothing left to show). */
  closeIfShowing(runDir: string): void {
    if (this.panel && this.runDir === path.resolve(runDir)) this.panel.dispose();
  }

  get visibleRun(): string | undefined {
    return this.panel ? this.runDir : undefined;
  }

  private onMessage(message: Exclude<DashboardFromWebview, { type: 'ready' }>): void {
    const runDir = this.runDir;
    switch (message.type) {
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
    const state = this.actions.liveState(runDir) ?? (await this.storedState(runDir));
    if (runDir === this.runDir) await this.post({ type: 'state', state });
  }

  private async storedState(runDir: string): Promise<DashboardState> {
    try {
      const state = dashboardStateOf(await this.actions.details(runDir));
      if (this.restoredBatches?.runDir === runDir) state.batches = this.restoredBatches.batches;
      return state;
    } catch (e) {
      const state = emptyDashboardState(null);
      state.error = `${runDir} cannot be shown: ${errorMessage(e)}`;
      return state;
    }
  }

  private async post(message: DashboardToWebview): Promise<void> {
    await this.single.post(message);
  }

  dispose(): void {
    this.single.dispose();
  }
}

/** The dashboard of a run that is not training in this session, from the run store's details. */
export function dashboardStateOf(details: RunDetails): DashboardState {
  const state = emptyDashboardState(runInfoOf(details));
  state.epochs = details.history;
  state.status = details.summary.status;
  state.bestEpoch = details.summary.bestEpoch;
  if (details.summary.status === 'failed' && details.message) state.error = details.message;
  return state;
}

export function runInfoOf(details: RunDetails): DashboardRunInfo {
  const c = details.config;
  return {
    runDir: details.summary.runDir,
    name: details.summary.name,
    backbone: c.backbone,
    data: c.data,
    epochs: c.epochs,
    batchSize: c.batchSize,
    learningRate: c.learningRate,
    classes: c.classes,
    createdAt: c.createdAt,
    config: c,
  };
}

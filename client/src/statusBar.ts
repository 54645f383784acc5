import * as path from 'node:path';
import * as vscode from 'vscode';
import { backendStatus } from '../../common/src/protocol';
import type { BackendStatus, TrainEvent } from '../../common/src/protocol';
import type { Backend, BackendState } from './backend';
import { errorMessage } from './errors';
import { describeDevice, deviceKind } from './device';
import type { Settings } from './settings';

/**
 * Status bar item `cxr.status`: "$(pulse) CXR: wasm · <active model>", a spinner with "epoch 3/20" while training.
 * Clicking it shows the backend status.
 */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private status: BackendStatus | null = null;
  private state: BackendState = 'stopped';
  private training: { runDir: string; text: string } | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly settings: Settings,
  ) {
    this.item = vscode.window.createStatusBarItem('cxr.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'CXR Studio';
    this.item.command = 'cxr.backendStatus';
    this.disposables.push(
      backend.onDidChangeState((s) => {
        this.state = s;
        if (s === 'running') void this.refresh();
        if (s !== 'running') this.training = null;
        this.render();
      }),
      backend.onTrainEvent(({ runDir, event }) => this.onTrainEvent(runDir, event)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cxr.activeModel') || e.affectsConfiguration('cxr.defaultBackbone')) this.render();
      }),
    );
    this.render();
    this.item.show();
  }

  /** Asks the backend for its status (engine backend, busy) and redraws. */
  async refresh(): Promise<BackendStatus | null> {
    try {
      this.status = await this.backend.request(backendStatus);
      const active = this.status.activeTraining;
      if (active && !this.training) this.training = { runDir: active.runDir, text: active.epoch > 0 ? `epoch ${active.epoch}/${active.epochs}` : 'preparing' };
      if (!active) this.training = null;
    } catch (e) {
      this.backend.output.warn(`Backend status unavailable: ${errorMessage(e)}`);
    }
    this.render();
    return this.status;
  }

  private onTrainEvent(runDir: string, event: TrainEvent): void {
    switch (event.kind) {
      case 'phase':
        this.training = event.phase === 'finished' ? null : { runDir, text: event.phase };
        break;
      case 'batch':
        this.training = { runDir, text: `epoch ${event.epoch}/${event.epochs}` };
        break;
      case 'epoch':
        this.training = { runDir, text: `epoch ${Math.min(event.epoch + 1, event.epochs)}/${event.epochs}` };
        break;
      default:
        return;
    }
    this.render();
  }

  /** Called when a training request has settled, whatever its outcome. */
  trainingEnded(): void {
    this.training = null;
    this.render();
    void this.refresh();
  }

  private render(): void {
    const missing = this.missingDefaultWeights();
    const kind = deviceKind(this.status?.backend.device);
    const engine = this.status ? `${this.status.backend.name}${kind ? ` (${kind})` : ''}` : this.state === 'running' ? '…' : this.state;
    const active = this.settings.activeModel;
    const model = active ? path.basename(active) : 'no active model';
    if (this.state !== 'running') {
      this.item.text = this.state === 'starting' ? '$(loading~spin) CXR: starting…' : '$(debug-disconnect) CXR: stopped';
    } else if (this.training) {
      this.item.text = `$(sync~spin) CXR: ${engine} · ${this.training.text}`;
    } else if (missing) {
      this.item.text = `$(warning) CXR: ${engine} · no ${missing} weights`;
    } else {
      this.item.text = `$(pulse) CXR: ${engine} · ${model}`;
    }
    this.item.command = missing && this.state === 'running' && !this.training ? 'cxr.getBackboneWeights' : 'cxr.backendStatus';
    this.item.backgroundColor = this.state === 'stopped' || missing ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.appendMarkdown('**CXR Studio** (research use only, not a diagnostic device)\n\n');
    const lines = [`Backend process: ${this.state}`];
    if (this.status) {
      lines.push(
        `Engine: ${this.status.backend.name} (${this.status.backend.reason})`,
        `Trains on: ${describeDevice(this.status.backend.device)}`,
        ...this.status.backend.warnings.map((w) => `Warning: ${w}`),
        `Busy: ${this.status.busy ? 'yes' : 'no'}`,
      );
    }
    if (missing) lines.push(`No ImageNet weights for ${missing}: training would start from random weights. Click to get them.`);
    if (this.training) lines.push(`Training ${path.basename(this.training.runDir)}: ${this.training.text}`);
    lines.push(`Active model: ${active ?? 'none'}`);
    for (const line of lines) {
      tooltip.appendText(line);
      tooltip.appendMarkdown('  \n');
    }
    tooltip.appendMarkdown('\n\nClick for the backend status.');
    this.item.tooltip = tooltip;
  }

  /** The default backbone, when the backend finds no ImageNet weights for it. */
  private missingDefaultWeights(): string | undefined {
    const id = this.settings.defaultBackbone;
    const w = this.status?.weights?.find((x) => x.backbone === id);
    return w && w.file === null ? id : undefined;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.item.dispose();
  }
}

import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BACKBONE_DESCRIPTIONS, BACKBONE_IDS, backendStatus, cancelTraining, train, workDoneProgress } from '../../common/src/protocol';
import type { BackboneId, DatasetSummary, RunStatus, TrainEvent, TrainRequest, TrainResult } from '../../common/src/protocol';
import { applyTrainEvent, DashboardRunInfo, DashboardState, emptyDashboardState } from '../../common/src/webviewProtocol';
import type { Backend } from './backend';
import { DashboardPanel, runInfoOf } from './dashboardPanel';
import { datasetLabel, datasetOfNode, DatasetsTree } from './datasetsTree';
import { errorCode, errorMessage } from './errors';
import { isWithin } from './paths';
import type { Runs } from './runs';
import type { RunsTree } from './runsTree';
import type { Settings } from './settings';
import type { StatusBar } from './statusBar';

const BACKBONES = BACKBONE_IDS.map((id) => ({ id, ...BACKBONE_DESCRIPTIONS[id] }));

const UNTRUSTED_MESSAGE =
  'CXR Studio: training is disabled in Restricted Mode, because it writes run folders and runs long computations on files from this workspace. Trust the workspace to train; evaluating, classifying and heatmaps still work.';

/** Starting, following and cancelling trainings: quick picks, the progress notification and the dashboard's state. */
export class TrainingController implements vscode.Disposable {
  /** Live dashboard state of the runs trained in this session, by absolute run folder. */
  private readonly sessions = new Map<string, DashboardState>();
  private active: { runDir: string } | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  readonly dashboard: DashboardPanel;

  constructor(
    extensionUri: vscode.Uri,
    private readonly backend: Backend,
    private readonly settings: Settings,
    private readonly datasets: DatasetsTree,
    private readonly runsTree: RunsTree,
    private readonly runs: Runs,
    private readonly statusBar: StatusBar,
  ) {
    this.dashboard = new DashboardPanel(extensionUri, {
      liveState: (runDir) => this.sessions.get(path.resolve(runDir)),
      details: (runDir) => this.runs.details(runDir),
      cancel: (runDir) => this.cancel(runDir),
      evaluate: (runDir) => void vscode.commands.executeCommand('cxr.evaluate', runDir),
      showLogs: () => backend.output.show(true),
    });
    this.disposables.push(this.dashboard, backend.onTrainEvent(({ runDir, event }) => this.onTrainEvent(runDir, event)));
  }

  get activeRun(): string | undefined {
    return this.active?.runDir;
  }

  private onTrainEvent(runDir: string, event: TrainEvent): void {
    const key = path.resolve(runDir);
    let state = this.sessions.get(key);
    if (!state) {
      state = emptyDashboardState(null);
      this.sessions.set(key, state);
      void this.runInfo(key).then((info) => {
        if (info && !state?.run) state!.run = info;
      });
    }
    applyTrainEvent(state, event);
    // config.json (batch size, learning rate, classes) is written before training starts: show the real values.
    if (event.kind === 'phase' && event.phase === 'training') void this.reloadRunInfo(key, state);
    if (event.kind === 'warning') this.backend.output.warn(`Training ${path.basename(key)}: ${event.message}`);
    if (event.kind === 'epoch') {
      const val = event.valAccuracy === null ? '' : `, val acc ${(event.valAccuracy * 100).toFixed(1)}%`;
      this.backend.output.info(`Training ${path.basename(key)}: epoch ${event.epoch}/${event.epochs} loss ${event.loss.toFixed(4)}${val}${event.improved ? ' (best)' : ''}`);
    }
    this.dashboard.trainEvent(key, event);
  }

  private async runInfo(runDir: string): Promise<DashboardRunInfo | null> {
    try {
      return runInfoOf(await this.runs.details(runDir));
    } catch {
      return null; // config.json not written yet
    }
  }

  private async reloadRunInfo(runDir: string, state: DashboardState): Promise<void> {
    const info = await this.runInfo(runDir);
    if (!info) return;
    state.run = info;
    this.dashboard.refresh(runDir);
  }

  /** `cxr.train`: dataset, backbone and epochs from quick picks (defaults from settings), then train. */
  async trainCommand(arg?: unknown): Promise<void> {
    if (!this.ensureTrusted() || !(await this.ensureIdle())) return;
    const dataset = datasetOfNode(arg) ?? (await this.pickDataset());
    if (!dataset) return;
    const backbone = await pickBackbone(this.settings.defaultBackbone);
    if (!backbone) return;
    const epochs = await pickEpochs(this.settings.defaultEpochs);
    if (epochs === undefined) return;
    const name = `${slug(datasetLabel(dataset))}-${backbone}-${timestamp()}`;
    const out = path.join(this.settings.runsDirectory, name);
    await this.start({ data: dataset.path, out, backbone, epochs }, dataset.classes);
  }

  /**
   * Starts a new training from a request the training form built (everything but the run folder), after the same
   * trust and one-at-a-time checks as `cxr.train`. Returns the run folder, or undefined when it did not start; the
   * training itself goes on in the background with the progress notification and the dashboard.
   */
  async startConfigured(req: Omit<TrainRequest, 'out'>, dataset: { label: string; classes: string[] }): Promise<string | undefined> {
    if (!this.ensureTrusted() || !(await this.ensureIdle())) return undefined;
    const out = path.join(this.settings.runsDirectory, `${slug(dataset.label)}-${req.backbone}-${timestamp()}`);
    void this.start({ ...req, out }, dataset.classes);
    return path.resolve(out);
  }

  /** `cxr.resumeTraining`: continues an interrupted, cancelled or failed run from its last checkpoint. */
  async resumeCommand(arg?: unknown): Promise<void> {
    if (!this.ensureTrusted() || !(await this.ensureIdle())) return;
    const runDir = await this.runs.resolve(arg, 'Resume which run?', (r) => r.status !== 'completed' && r.status !== 'running');
    if (!runDir) return;
    let config;
    try {
      config = (await this.runs.details(runDir)).config;
    } catch (e) {
      void vscode.window.showErrorMessage(`Cannot resume ${path.basename(runDir)}: ${errorMessage(e)}`);
      return;
    }
    await this.start({ data: config.data, out: runDir, backbone: config.backbone, resume: true }, config.classes, config.epochs);
  }

  /** `cxr.cancelTraining`. */
  async cancelCommand(arg?: unknown): Promise<void> {
    const runDir = typeof arg === 'string' ? arg : this.active?.runDir;
    if (runDir) return this.cancel(runDir);
    try {
      const status = await this.backend.request(backendStatus);
      if (status.activeTraining) return this.cancel(status.activeTraining.runDir);
    } catch {
      // fall through to "nothing to cancel"
    }
    void vscode.window.showInformationMessage('CXR Studio: no training is running.');
  }

  async cancel(runDir: string): Promise<void> {
    try {
      const { cancelled } = await this.backend.request(cancelTraining, { runDir });
      if (cancelled) {
        this.backend.output.info(`Cancelling training of ${path.basename(runDir)}`);
        const state = this.sessions.get(path.resolve(runDir));
        if (state) state.phase = { phase: 'cancelling', message: 'Cancelling after the current batch…' };
        this.dashboard.refresh(runDir);
      } else {
        void vscode.window.showInformationMessage('CXR Studio: that run is not training any more.');
      }
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not cancel training: ${errorMessage(e)}`);
    }
  }

  private ensureTrusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE, 'Manage Workspace Trust').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
    });
    return false;
  }

  private async ensureIdle(): Promise<boolean> {
    if (!this.active) return true;
    const name = path.basename(this.active.runDir);
    const choice = await vscode.window.showWarningMessage(`CXR Studio: ${name} is still training; one training runs at a time.`, 'Open Dashboard', 'Cancel Training');
    if (choice === 'Open Dashboard') this.dashboard.show(this.active.runDir);
    if (choice === 'Cancel Training') await this.cancel(this.active.runDir);
    return false;
  }

  private async pickDataset(): Promise<DatasetSummary | undefined> {
    const datasets = await vscode.window.withProgress({ location: { viewId: 'cxr.datasets' } }, () => this.datasets.datasets());
    type Item = vscode.QuickPickItem & { dataset?: DatasetSummary; browse?: boolean };
    const items: Item[] = datasets.map((d) => ({
      label: `$(database) ${datasetLabel(d)}`,
      description: `${d.classes.length} classes · ${d.total} images`,
      detail: d.path,
      dataset: d,
    }));
    items.push({ label: '$(folder-opened) Browse for a dataset folder…', browse: true, alwaysShow: true });
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Train Model (1/3): dataset',
      placeHolder: datasets.length ? 'Dataset to train on (train/<class>/ and test/<class>/ folders, or a CSV manifest)' : 'No datasets found in the workspace or cxr.dataRoots',
      matchOnDetail: true,
    });
    if (!picked) return undefined;
    if (picked.dataset) return picked.dataset;
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'Dataset folder (holding train/ and test/)' });
    if (!uris?.[0]) return undefined;
    const folder = uris[0].fsPath;
    const config = vscode.workspace.getConfiguration('cxr');
    const roots = config.get<string[]>('dataRoots') ?? [];
    if (!this.settings.allowedRoots().some((r) => isWithin(folder, r))) {
      // The backend only reads allowed roots; a browsed folder outside them becomes a data root.
      await config.update('dataRoots', [...roots, folder], vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
      await this.backend.syncRoots();
      this.datasets.refresh();
    }
    return { path: folder, source: 'folders', classes: [], counts: {}, total: 0 };
  }

  /** Sends cxr/train and follows it with a cancellable progress notification and the dashboard. */
  private async start(req: TrainRequest, classes: string[], epochsHint?: number): Promise<void> {
    const runDir = path.resolve(req.out);
    const name = path.basename(runDir);
    const previous = req.resume ? await this.runInfo(runDir) : null;
    const state = emptyDashboardState(
      previous ?? {
        runDir,
        name,
        backbone: req.backbone,
        data: req.data,
        epochs: req.epochs ?? epochsHint ?? 0,
        batchSize: req.batchSize ?? null,
        learningRate: req.learningRate ?? null,
        classes,
        createdAt: new Date().toISOString(),
      },
    );
    state.training = true;
    state.status = 'running';
    state.phase = { phase: 'preparing', message: req.resume ? 'Resuming from the last checkpoint…' : 'Starting…' };
    if (req.resume) {
      const old = this.sessions.get(runDir);
      if (old) state.epochs = old.epochs;
    }
    this.sessions.set(runDir, state);
    this.active = { runDir };
    void vscode.commands.executeCommand('setContext', 'cxr.training', true);
    this.dashboard.show(runDir, true);
    this.backend.output.info(`Training ${name}: ${JSON.stringify(req)}`);

    // With our own token the backend reports on it instead of opening a second progress notification.
    const workDoneToken = `cxr-train-${randomUUID()}`;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `CXR: ${req.resume ? 'resuming' : 'training'} ${name}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => void this.cancel(runDir));
        // The one progress path: the backend's work-done progress on our token (percent and message per event).
        let reported = 0;
        const events = this.backend.onProgress(workDoneProgress, workDoneToken, (value) => {
          if (value.kind === 'end') return;
          const increment = value.percentage === undefined ? undefined : Math.max(0, value.percentage - reported);
          if (value.percentage !== undefined) reported = Math.max(reported, value.percentage);
          progress.report({ message: value.message, increment });
        });
        try {
          const result = await this.backend.request(train, { ...req, workDoneToken });
          this.onFinished(state, result);
        } catch (e) {
          this.onFailed(state, runDir, e);
        } finally {
          events.dispose();
          this.active = null;
          void vscode.commands.executeCommand('setContext', 'cxr.training', false);
          this.statusBar.trainingEnded();
          this.runsTree.refreshSoon(100);
          this.dashboard.refresh(runDir);
        }
      },
    );
  }

  private onFinished(state: DashboardState, result: TrainResult): void {
    state.training = false;
    state.status = result.status;
    state.bestEpoch = result.bestEpoch;
    if (result.history.length > 0) state.epochs = result.history;
    for (const w of result.warnings) if (!state.warnings.includes(w)) state.warnings.push(w);
    state.phase = { phase: 'finished', message: finishedMessage(result.status, result.bestEpoch !== null) };
    void this.reloadRunInfo(path.resolve(result.runDir), state);
    const name = path.basename(result.runDir);
    const best = result.bestValAccuracy === null ? '' : ` Best validation accuracy ${(result.bestValAccuracy * 100).toFixed(1)}% (epoch ${result.bestEpoch}).`;
    this.backend.output.info(`Training ${name} ${result.status} after ${result.epochsRun} epochs in ${result.seconds.toFixed(0)} s on ${result.backend}.`);
    void this.announce(result, `${name}: ${finishedMessage(result.status, result.bestEpoch !== null)} after ${result.epochsRun} epoch${result.epochsRun === 1 ? "" : "s"} (${result.seconds.toFixed(0)} s).${best}`);
  }

  private async announce(result: TrainResult, message: string): Promise<void> {
    const hasModel = result.bestEpoch !== null;
    // A model trained from random weights (no ImageNet weights were found) is never made active by itself.
    const pretrained = hasModel && (await this.runs.details(result.runDir).then((d) => d.config.pretrained, () => false));
    let activated = false;
    if (hasModel && pretrained && !this.settings.activeModel) {
      await this.settings.setActiveModel(result.runDir);
      activated = true;
    }
    const actions = hasModel ? ['Evaluate', ...(activated ? [] : ['Set as Active Model'])] : [];
    if (result.status === 'cancelled') actions.push('Resume Training');
    actions.push('Open Dashboard');
    const text = activated ? `${message} It is now the active model.` : message;
    const choice = result.status === 'completed' ? await vscode.window.showInformationMessage(text, ...actions) : await vscode.window.showWarningMessage(text, ...actions);
    if (choice === 'Evaluate') void vscode.commands.executeCommand('cxr.evaluate', result.runDir);
    if (choice === 'Set as Active Model') void vscode.commands.executeCommand('cxr.setActiveModel', result.runDir);
    if (choice === 'Resume Training') void vscode.commands.executeCommand('cxr.resumeTraining', result.runDir);
    if (choice === 'Open Dashboard') this.dashboard.show(result.runDir);
  }

  private onFailed(state: DashboardState, runDir: string, e: unknown): void {
    const message = errorMessage(e);
    state.training = false;
    state.status = 'failed';
    state.error = message;
    state.phase = { phase: 'finished', message: 'Training failed' };
    this.backend.output.error(`Training ${path.basename(runDir)} failed: ${message}`);
    const crashed = this.backend.state !== 'running' || /connection|disposed|closed/i.test(message);
    const code = errorCode(e);
    const text = crashed
      ? `CXR: training ${path.basename(runDir)} stopped because the backend process ended. Resume it from its last checkpoint once the backend is back.`
      : `CXR: training ${path.basename(runDir)} failed: ${message}`;
    const actions = crashed || code === 'CANCELLED' ? ['Resume Training', 'Show Logs'] : ['Show Logs'];
    void vscode.window.showErrorMessage(text, ...actions).then((choice) => {
      if (choice === 'Show Logs') this.backend.output.show(true);
      if (choice === 'Resume Training') void vscode.commands.executeCommand('cxr.resumeTraining', runDir);
    });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function finishedMessage(status: RunStatus, hasModel: boolean): string {
  switch (status) {
    case 'completed':
      return 'training completed';
    case 'cancelled':
      return hasModel ? 'training cancelled (the best model so far is kept)' : 'training cancelled before any epoch finished (there is no model)';
    case 'failed':
      return 'training failed';
    default:
      return `training ${status}`;
  }
}

async function pickBackbone(preferred: BackboneId): Promise<BackboneId | undefined> {
  const items = [...BACKBONES].sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred));
  const picked = await vscode.window.showQuickPick(
    items.map((b) => ({ label: b.label, description: b.id === preferred ? `${b.id} (default)` : b.id, detail: b.detail, id: b.id })),
    { title: 'Train Model (2/3): backbone' },
  );
  return picked?.id;
}

async function pickEpochs(defaultEpochs: number): Promise<number | undefined> {
  const value = await vscode.window.showInputBox({
    title: 'Train Model (3/3): epochs',
    prompt: 'Number of epochs (the best epoch on the validation split is kept)',
    value: String(defaultEpochs),
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 1000 ? undefined : 'Enter a whole number from 1 to 1000'),
  });
  return value === undefined ? undefined : Number(value.trim());
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'dataset';
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

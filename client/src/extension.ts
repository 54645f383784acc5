import * as path from 'node:path';
import * as vscode from 'vscode';
import { deleteRun } from '../../common/src/protocol';
import { AuditCommand } from './audit';
import { Backend } from './backend';
import { showModelCard } from './modelCard';
import { runShortcutAudit } from './shortcutAudit';
import { ClassifyCommands } from './classify';
import { CompareRuns } from './compareRuns';
import { DatasetsTree } from './datasetsTree';
import { errorMessage, showError } from './errors';
import { EvaluationController } from './evaluate';
import { exportRunCommand, featureCacheCommand } from './exportAndCache';
import { HeatmapEditorProvider } from './heatmapEditor';
import { registerPanelSerializers } from './panelSerializers';
import { Runs } from './runs';
import { isSamePath, RunsTree } from './runsTree';
import { Settings } from './settings';
import { StatusBar } from './statusBar';
import { describeDevice } from './device';
import { useTensorflowInstallation } from './tensorflowInstallation';
import { TrainingController } from './training';
import { TrainingFormPanel } from './trainingFormPanel';
import { ResultsPanel } from './resultsPanel';
import { DatasetViewPanel } from './datasetViewPanel';
import { WeightsCommand } from './weights';

let backend: Backend | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('CXR Studio', { log: true });
  const settings = new Settings(context.globalStorageUri);
  backend = new Backend(context, settings, output);
  const b = backend;

  const datasets = new DatasetsTree(b, settings);
  const runsTree = new RunsTree(b, settings);
  const runs = new Runs(b, runsTree, settings);
  const statusBar = new StatusBar(b, settings);
  const training = new TrainingController(context.extensionUri, b, settings, datasets, runsTree, runs, statusBar);
  const evaluation = new EvaluationController(context.extensionUri, b, runs, runsTree);
  const weights = new WeightsCommand(context, b, statusBar);
  const heatmaps = new HeatmapEditorProvider(context.extensionUri, b, settings, runs, (file) => datasets.splitFolderOf(file));
  const results = new ResultsPanel(context.extensionUri, b);
  const classify = new ClassifyCommands(b, runs, heatmaps, results);
  const audit = new AuditCommand(b, datasets, context.globalStorageUri);
  const datasetView = new DatasetViewPanel(context.extensionUri, b, datasets, audit);
  datasets.showFindingsOf(audit);
  const trainingForm = new TrainingFormPanel(context.extensionUri, context.workspaceState, b, settings, datasets, training);
  const compare = new CompareRuns(context.extensionUri, b, runs, runsTree, settings, (runDir) => training.dashboard.show(runDir));

  const command = (id: string, handler: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await handler(...args);
      } catch (e) {
        await showError(`CXR: ${id} failed`, e, output);
      }
    });

  context.subscriptions.push(
    output,
    b,
    datasets,
    runsTree,
    statusBar,
    training,
    evaluation,
    HeatmapEditorProvider.register(context, heatmaps),
    trainingForm,
    compare,
    ...registerPanelSerializers(b, training.dashboard, evaluation.panel, compare.panel, heatmaps),
    ...compare.register(command),
    results,
    command('cxr.train', (arg) => training.trainCommand(arg)),
    command('cxr.configureTraining', () => trainingForm.show()),
    datasetView,
    command('cxr.openDatasetView', (arg) => datasetView.open(arg)),
    command('cxr.resumeTraining', (arg) => training.resumeCommand(arg)),
    command('cxr.cancelTraining', (arg) => training.cancelCommand(arg)),
    command('cxr.evaluate', (arg) => evaluation.evaluateCommand(arg)),
    command('cxr.openEvaluation', (arg) => evaluation.openEvaluationCommand(arg)),
    command('cxr.classifyImage', (arg, selection) => classify.classify(arg, selection)),
    command('cxr.showHeatmap', (arg, selection) => classify.showHeatmap(arg, selection)),
    command('cxr.lockHeatmap', () => heatmaps.setActiveLocked(true)),
    command('cxr.unlockHeatmap', () => heatmaps.setActiveLocked(false)),
    command('cxr.openDashboard', async (arg) => {
      const runDir = training.activeRun && arg === undefined ? training.activeRun : await runs.resolve(arg, 'Open the dashboard of which run?');
      if (runDir) training.dashboard.show(runDir);
    }),
    command('cxr.refreshDatasets', () => datasets.refresh()),
    command('cxr.auditDataset', (arg) => audit.run(arg)),
    command('cxr.showModelCard', (arg) => showModelCard(b, runs, arg)),
    command('cxr.shortcutAudit', (arg) => runShortcutAudit(b, runs, arg)),
    command('cxr.refreshRuns', () => runsTree.refresh()),
    command('cxr.setActiveModel', (arg) => runs.setActive(arg)),
    command('cxr.revealRun', async (arg) => {
      const runDir = await runs.resolve(arg, 'Reveal which run?');
      if (runDir) await revealFolder(runDir);
    }),
    command('cxr.deleteRun', async (arg) => {
      const runDir = await runs.resolve(arg, 'Delete which run?');
      if (!runDir) return;
      const name = path.basename(runDir);
      const confirm = await vscode.window.showWarningMessage(
        `Delete run "${name}"?`,
        { modal: true, detail: `This deletes ${runDir} with its model, checkpoints and evaluations. It cannot be undone.` },
        'Delete',
      );
      if (confirm !== 'Delete') return;
      try {
        await b.request(deleteRun, { runDir });
      } catch (e) {
        return showError(`Could not delete ${name}`, e, output);
      }
      if (isSamePath(settings.activeModel, runDir)) await settings.setActiveModel(undefined);
      training.dashboard.closeIfShowing(runDir);
      runsTree.refresh();
      void vscode.window.showInformationMessage(`Deleted run ${name}.`);
    }),
    command('cxr.exportModel', (arg) => exportRunCommand(b, runs, arg)),
    command('cxr.featureCache', () => featureCacheCommand(b)),
    command('cxr.showLogs', () => output.show(true)),
    command('cxr.getBackboneWeights', (arg) => weights.run(arg)),
    command('cxr.backendStatus', () => showBackendStatus(b, statusBar, output)),
    command('cxr.useTensorflowInstallation', () => useTensorflowInstallation(b, settings, statusBar, output)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const engineSettings = ['cxr.engineBackend', 'cxr.modelsDirectory', 'cxr.tfjsNodePath', 'cxr.onnxExecutionProvider', 'cxr.cacheDirectory'];
      if (engineSettings.some((k) => e.affectsConfiguration(k))) void restartForSettings(b, training);
      if (e.affectsConfiguration('cxr.dataRoots')) datasets.refresh();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      datasets.refresh();
      runsTree.refresh();
    }),
    b.onDidChangeState((state) => {
      if (state === 'running') {
        void b.syncTrust();
        runsTree.refresh();
      }
    }),
  );

  try {
    await b.start();
  } catch (e) {
    output.error(`Backend failed to start: ${errorMessage(e)}`);
    void vscode.window.showErrorMessage(`CXR Studio: the backend failed to start: ${errorMessage(e)}`, 'Show Logs').then((c) => {
      if (c) output.show(true);
    });
  }
}

export async function deactivate(): Promise<void> {
  await backend?.stop();
}

async function restartForSettings(b: Backend, training: TrainingController): Promise<void> {
  if (training.activeRun) {
    void vscode.window.showInformationMessage('CXR Studio: the new engine setting applies after the current training, when the backend restarts.');
    return;
  }
  try {
    await b.restart();
  } catch (e) {
    void vscode.window.showErrorMessage(`CXR Studio: restarting the backend failed: ${errorMessage(e)}`);
  }
}

async function revealFolder(dir: string): Promise<void> {
  const uri = vscode.Uri.file(dir);
  if (vscode.workspace.getWorkspaceFolder(uri)) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
    return;
  }
  // Outside the workspace the explorer cannot show it; the OS file manager can (desktop only).
  try {
    await vscode.commands.executeCommand('revealFileInOS', uri);
  } catch {
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path.join(dir, 'config.json')));
  }
}

async function showBackendStatus(b: Backend, statusBar: StatusBar, output: vscode.LogOutputChannel): Promise<void> {
  if (b.state === 'stopped') {
    const choice = await vscode.window.showWarningMessage('CXR Studio: the backend is not running.', 'Start Backend', 'Show Logs');
    if (choice === 'Show Logs') output.show(true);
    if (choice !== 'Start Backend') return;
    await b.ensureStarted();
  }
  const status = await statusBar.refresh();
  if (!status) throw new Error('the backend did not answer cxr/backendStatus');
  const training = status.activeTraining
    ? `training ${path.basename(status.activeTraining.runDir)} (epoch ${status.activeTraining.epoch}/${status.activeTraining.epochs})`
    : status.busy
      ? 'busy'
      : 'idle';
  const details = [
    `CXR Studio backend ${status.version} (protocol ${status.protocolVersion})`,
    `Engine backend: ${status.backend.name} (${status.backend.reason})`,
    ...status.backend.candidates.map((c) => `  ${c.name}: ${c.available ? 'available' : 'unavailable'} (${c.why})`),
    `Versions: ${Object.entries(status.backend.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `Custom kernels: ${status.backend.customKernels.join(', ') || 'none'}`,
    `Device: ${describeDevice(status.backend.device)}`,
    ...status.backend.warnings.map((w) => `Warning: ${w}`),
    ...(status.onnxRuntime
      ? [`ONNX Runtime: ${status.onnxRuntime.why}`, ...status.onnxRuntime.providers.map((p) => `  ${p.name}: ${p.available ? 'available' : 'unavailable'} (${p.why})`), ...status.onnxRuntime.warnings.map((w) => `Warning: ${w}`)]
      : []),
    `State: ${training}`,
    `Workspace trusted: ${status.trusted ? 'yes' : 'no (training disabled)'}`,
    `Allowed roots: ${status.allowedRoots.join(', ')}`,
    ...status.weights.map((w) => `ImageNet weights for ${w.backbone}: ${w.file ?? 'MISSING (training would start from random weights; run "CXR: Get Backbone Weights")'}`),
  ];
  for (const line of details) output.info(line);
  const missing = status.weights.filter((w) => w.file === null).map((w) => w.backbone);
  const choice = await vscode.window.showInformationMessage(
    `CXR backend: ${status.backend.name} on ${describeDevice(status.backend.device)} · ${training} · ${status.trusted ? 'trusted' : 'restricted mode'}` +
      (missing.length ? ` · no ImageNet weights for ${missing.join(', ')}` : ''),
    'Show Details',
    ...(missing.length ? ['Get Backbone Weights'] : []),
  );
  if (choice === 'Show Details') output.show(true);
  if (choice === 'Get Backbone Weights') void vscode.commands.executeCommand('cxr.getBackboneWeights', missing[0]);
}

import * as path from 'node:path';
import * as vscode from 'vscode';
import { trainingOptions } from '../../common/src/protocol';
import type { TrainingOptions } from '../../common/src/protocol';
import {
  checkTrainingForm,
  mergeRemembered,
  recipeValues,
  type TrainingFormDataset,
  type TrainingFormFromWebview,
  type TrainingFormState,
  type TrainingFormToWebview,
  type TrainingFormValues,
} from '../../common/src/trainingForm';
import type { Backend } from './backend';
import { datasetLabel, type DatasetsTree } from './datasetsTree';
import { errorMessage } from './errors';
import type { Settings } from './settings';
import type { TrainingController } from './training';
import { SingleCxrPanel } from './webviewHtml';

/** Where the form's values are remembered: per workspace. */
const REMEMBERED_KEY = 'cxr.trainingForm.values';
const TITLE = 'Configure Training';

/**
 * `cxr.configureTraining`: every training knob in one form (the registry's backbones, their recipe's defaults and
 * freeze points from the backend), checked as the user types with the engine's own ranges, remembered per workspace,
 * and started with the same cxr/train request as the Train Model command.
 */
export class TrainingFormPanel implements vscode.Disposable {
  private readonly single: SingleCxrPanel<TrainingFormFromWebview, TrainingFormToWebview>;
  private options: TrainingOptions | null = null;
  private datasets: TrainingFormDataset[] = [];
  private message: TrainingFormState['message'] = null;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    extensionUri: vscode.Uri,
    private readonly workspaceState: vscode.Memento,
    private readonly backend: Backend,
    private readonly settings: Settings,
    private readonly datasetsTree: DatasetsTree,
    private readonly training: TrainingController,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.trainingForm',
      entry: 'trainingForm',
      onReady: () => void this.load().then(() => this.postState()),
      onMessage: (m) => void this.onMessage(m),
    });
    this.disposables.push(
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.postState()),
      backend.onTrainEvent(({ event }) => {
        // The Start button follows whether a training runs (it starts and ends outside the form too).
        if (event.kind === 'phase' && (event.phase === 'preparing' || event.phase === 'finished')) void this.postState();
      }),
      vscode.window.registerWebviewPanelSerializer('cxr.trainingForm', {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => void this.single.restore(panel, TITLE),
      }),
    );
  }

  show(): void {
    this.single.show(TITLE);
  }

  private async onMessage(m: Exclude<TrainingFormFromWebview, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'change':
        await this.remember(m.values);
        return;
      case 'browseWeights': {
        await this.remember(m.values);
        const picked = await vscode.window.showOpenDialog({
          title: 'Pretrained weights (ImageNet, without the top)',
          canSelectMany: false,
          filters: { 'Weights files': ['json', 'h5', 'keras'] },
        });
        if (picked?.[0]) await this.remember({ ...m.values, weights: picked[0].fsPath });
        return this.postState();
      }
      case 'start':
        await this.remember(m.values);
        await this.start(m.values);
        return this.postState();
      case 'openDashboard':
        if (this.training.activeRun) this.training.dashboard.show(this.training.activeRun);
        return;
    }
  }

  private async start(values: TrainingFormValues): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.message = { kind: 'error', text: 'Training is disabled in Restricted Mode.' };
      return;
    }
    const { problems, request } = checkTrainingForm(values, this.options, this.datasets);
    const dataset = this.datasets.find((d) => d.path === values.dataset);
    if (!request || !dataset) {
      const first = Object.values(problems)[0] ?? 'Choose a dataset.';
      this.message = { kind: 'error', text: `Not started: ${first}` };
      return;
    }
    this.backend.output.info(`Training form: starting ${JSON.stringify(request)}`);
    const runDir = await this.training.startConfigured(request, dataset);
    this.message = runDir
      ? { kind: 'info', text: `Started ${path.basename(runDir)}. The dashboard follows it; the values stay here for the next run.` }
      : { kind: 'error', text: 'Not started: another training is running (one at a time).' };
  }

  private async load(): Promise<void> {
    try {
      this.options = await this.backend.request(trainingOptions, {});
    } catch (e) {
      this.message = { kind: 'error', text: `The backend did not give the training options: ${errorMessage(e)}` };
    }
    const found = await this.datasetsTree.datasets();
    this.datasets = found.map((d) => ({ path: d.path, label: datasetLabel(d), classes: d.classes, total: d.total }));
  }

  private values(): TrainingFormValues {
    const backbone = this.settings.defaultBackbone;
    const keep = { dataset: this.datasets[0]?.path ?? '', weights: '' };
    const defaults: TrainingFormValues = this.options
      ? recipeValues(this.options, backbone, keep)
      : { ...keep, backbone, freezeAt: '', epochs: '', batchSize: '', learningRate: '', momentum: '', augment: false, rotationDeg: '', widthShift: '', heightShift: '', zoom: '', valFraction: '', seed: '', batchNorm: 'inference' };
    return mergeRemembered(this.workspaceState.get(REMEMBERED_KEY), defaults, this.options);
  }

  private async remember(values: TrainingFormValues): Promise<void> {
    await this.workspaceState.update(REMEMBERED_KEY, values);
  }

  private async postState(): Promise<void> {
    if (!this.single.panel) return;
    const state: TrainingFormState = {
      options: this.options,
      datasets: this.datasets,
      values: this.values(),
      trusted: vscode.workspace.isTrusted,
      activeRun: this.training.activeRun ?? null,
      message: this.message,
    };
    const message: TrainingFormToWebview = { type: 'state', state };
    await this.single.post(message);
  }

  dispose(): void {
    this.single.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

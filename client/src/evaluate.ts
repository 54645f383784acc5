import * as path from 'node:path';
import * as vscode from 'vscode';
import { evaluate, readEvaluation } from '../../common/src/protocol';
import type { EvaluateResult, SplitName } from '../../common/src/protocol';
import type { Backend } from './backend';
import { showError } from './errors';
import { EvaluationPanel } from './evaluationPanel';
import type { Runs } from './runs';
import type { RunsTree } from './runsTree';

type EvalSplit = SplitName | 'all';

const SPLITS: { split: EvalSplit; detail: string }[] = [
  { split: 'test', detail: 'The held-out test images (recommended)' },
  { split: 'val', detail: 'The validation images carved from train (used to pick the best epoch: optimistic)' },
  { split: 'train', detail: 'The training images (optimistic: the model has seen them)' },
  { split: 'all', detail: 'Every image of the dataset' },
];

/** `cxr.evaluate` and `cxr.openEvaluation`. */
export class EvaluationController implements vscode.Disposable {
  readonly panel: EvaluationPanel;

  constructor(
    extensionUri: vscode.Uri,
    private readonly backend: Backend,
    private readonly runs: Runs,
    private readonly runsTree: RunsTree,
  ) {
    this.panel = new EvaluationPanel(extensionUri, { reevaluate: (run, data, split) => void this.evaluate(run, data, split as EvalSplit) });
  }

  /** From a Runs view node (or a run path): the test split of the run's own dataset. From the palette: pick run and split. */
  async evaluateCommand(arg?: unknown): Promise<void> {
    const fromPalette = arg === undefined;
    const runDir = await this.runs.resolve(arg, 'Evaluate which run?', (r) => r.hasModel);
    if (!runDir) return;
    const details = await this.runs.requireModel(runDir, 'evaluate');
    if (!details) return;
    const data = details.config.data;
    let split: EvalSplit = 'test';
    if (fromPalette) {
      const picked = await vscode.window.showQuickPick(
        SPLITS.map((s) => ({ label: s.split, detail: s.detail })),
        { title: `Evaluate ${path.basename(runDir)}: split of ${path.basename(data)}` },
      );
      if (!picked) return;
      split = picked.label as EvalSplit;
    }
    await this.evaluate(runDir, data, split);
  }

  async evaluate(runDir: string, data: string, split: EvalSplit): Promise<EvaluateResult | undefined> {
    const name = path.basename(runDir);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `CXR: evaluating ${name} on ${split}`, cancellable: true },
      async (_progress, token) => {
        try {
          const result = await this.backend.request(evaluate, { run: runDir, data, split }, token);
          this.backend.output.info(`Evaluated ${name} on ${split}: accuracy ${(result.accuracy * 100).toFixed(1)}% (n=${result.n})`);
          this.panel.show(result);
          this.runsTree.refreshSoon(100);
          return result;
        } catch (e) {
          if (!token.isCancellationRequested) await showError(`Evaluation of ${name} failed`, e, this.backend.output, data);
          return undefined;
        }
      },
    );
  }

  /** Shows a run's saved evaluation (the run store's evaluation/<split>); offers to evaluate when there is none. */
  async openEvaluationCommand(arg?: unknown): Promise<void> {
    const runDir = await this.runs.resolve(arg, 'Open the evaluation of which run?');
    if (!runDir) return;
    let details;
    try {
      details = await this.runs.details(runDir);
    } catch (e) {
      return showError(`Cannot open the evaluation of ${path.basename(runDir)}`, e, this.backend.output);
    }
    const found = details.evaluations;
    if (found.length === 0) {
      const choice = await vscode.window.showInformationMessage(`${details.summary.name} has not been evaluated yet.`, 'Evaluate');
      if (choice === 'Evaluate') await this.evaluateCommand(runDir);
      return;
    }
    let split = found[0].split;
    if (found.length > 1) {
      const picked = await vscode.window.showQuickPick(
        found.map((r) => ({ label: r.split, description: `accuracy ${(r.accuracy * 100).toFixed(1)}% · n=${r.n}` })),
        { title: `Evaluations of ${details.summary.name}` },
      );
      if (!picked) return;
      split = picked.label;
    }
    try {
      this.panel.show(await this.backend.request(readEvaluation, { runDir, split }));
    } catch (e) {
      await showError(`Cannot open the ${split} evaluation of ${details.summary.name}`, e, this.backend.output);
    }
  }

  dispose(): void {
    this.panel.dispose();
  }
}

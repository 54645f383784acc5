import * as path from 'node:path';
import * as vscode from 'vscode';
import { runDetails } from '../../common/src/protocol';
import type { RunDetails, RunSummary } from '../../common/src/protocol';
import type { Backend } from './backend';
import { errorMessage } from './errors';
import { isSamePath, runDescription, runLabel, runOfNode, RunsTree } from './runsTree';
import type { Settings } from './settings';

/** Runs: picking one, asking the backend's run store about it, and the active model. The client reads no run file. */
export class Runs {
  constructor(
    private readonly backend: Backend,
    private readonly tree: RunsTree,
    private readonly settings: Settings,
  ) {}

  /** Config, status, history and saved evaluations of a run, from the backend's run store. */
  details(runDir: string): Promise<RunDetails> {
    return this.backend.request(runDetails, { runDir });
  }

  /** The run's details when a finished epoch left a model; otherwise tells the user why `action` cannot be done. */
  async requireModel(runDir: string, action: string): Promise<RunDetails | undefined> {
    let details: RunDetails;
    try {
      details = await this.details(runDir);
    } catch (e) {
      void vscode.window.showErrorMessage(`Cannot ${action} ${path.basename(runDir)}: ${errorMessage(e)}`);
      return undefined;
    }
    if (!details.summary.hasModel) {
      void vscode.window.showWarningMessage(
        `Cannot ${action} ${details.summary.name}: no epoch finished, so it has no model. Resume or retrain it first.`,
      );
      return undefined;
    }
    return details;
  }

  /** The run a command argument names (tree node, Uri or path), else one the user picks. */
  async resolve(arg: unknown, placeHolder: string, filter?: (r: RunSummary) => boolean): Promise<string | undefined> {
    const node = runOfNode(arg);
    if (node) return node.runDir;
    if (arg instanceof vscode.Uri) return arg.fsPath;
    if (typeof arg === 'string' && arg) return path.resolve(arg);
    return this.pick(placeHolder, filter);
  }

  async pick(placeHolder: string, filter?: (r: RunSummary) => boolean): Promise<string | undefined> {
    let runs: RunSummary[];
    try {
      runs = await this.tree.listRuns();
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not list runs: ${errorMessage(e)}`);
      return undefined;
    }
    runs = filter ? runs.filter(filter) : runs;
    if (runs.length === 0) {
      const choice = await vscode.window.showInformationMessage(`No matching runs in ${this.settings.runsDirectory}. Train a model first.`, 'Train Model');
      if (choice === 'Train Model') void vscode.commands.executeCommand('cxr.train');
      return undefined;
    }
    const active = this.settings.activeModel;
    const items = runs.map((r) => ({
      label: `${isSamePath(active, r.runDir) ? '$(star-full) ' : ''}${runLabel(r)}`,
      description: runDescription(r),
      detail: r.runDir,
      runDir: r.runDir,
    }));
    const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
    return picked?.runDir;
  }

  /** The active model's run folder; when none is set, offers to pick one (and makes it active). */
  async requireActiveModel(): Promise<string | undefined> {
    const active = this.settings.activeModel;
    if (active) return active;
    const runDir = await this.pick('No active model yet: pick the run to classify with', (r) => r.status !== 'running' && r.hasModel);
    if (runDir) await this.settings.setActiveModel(runDir);
    return runDir;
  }

  async setActive(arg: unknown): Promise<string | undefined> {
    const runDir = await this.resolve(arg, 'Set which run as the active model?', (r) => r.hasModel);
    if (!runDir || !(await this.requireModel(runDir, 'make the active model from'))) return undefined;
    await this.settings.setActiveModel(runDir);
    void vscode.window.showInformationMessage(`Active model: ${path.basename(runDir)}`);
    return runDir;
  }
}

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunConfig, RunSummary } from '../../common/src/protocol';
import { errorMessage } from './errors';
import { isSamePath, runDescription, runOfNode, RunsTree } from './runsTree';
import type { Settings } from './settings';

/** Run folders: picking one, reading its files, and the active model. */
export class Runs {
  constructor(
    private readonly tree: RunsTree,
    private readonly settings: Settings,
  ) {}

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
      label: `${isSamePath(active, r.runDir) ? '$(star-full) ' : ''}${r.name}`,
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
    const runDir = await this.pick('No active model yet: pick the run to classify with', (r) => r.status !== 'running' && r.bestEpoch !== null);
    if (runDir) await this.settings.setActiveModel(runDir);
    return runDir;
  }

  async setActive(arg: unknown): Promise<string | undefined> {
    const runDir = await this.resolve(arg, 'Set which run as the active model?', (r) => r.bestEpoch !== null);
    if (!runDir) return undefined;
    await this.settings.setActiveModel(runDir);
    void vscode.window.showInformationMessage(`Active model: ${path.basename(runDir)}`);
    return runDir;
  }
}

export async function readJsonFile<T>(file: string): Promise<T> {
  const bytes = await vscode.workspace.fs.readFile(vscode.Uri.file(file));
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return await readJsonFile<T>(file);
  } catch {
    return undefined;
  }
}

export function readRunConfig(runDir: string): Promise<RunConfig> {
  return readJsonFile<RunConfig>(path.join(runDir, 'config.json'));
}

import * as vscode from 'vscode';
import { listRuns } from '../../common/src/protocol';
import type { Backend } from './backend';
import { ComparePanel } from './comparePanel';
import { RunMetaCommands } from './runMetaCommands';
import type { Runs } from './runs';
import { runOfNode, type RunsTree } from './runsTree';
import type { Settings } from './settings';

type RegisterCommand = (id: string, handler: (...args: unknown[]) => unknown) => vscode.Disposable;

/**
 * Compare Runs and the runs' rename, notes and tags: the view, its commands, and keeping the view and the Runs tree
 * current when a run changes.
 */
export class CompareRuns implements vscode.Disposable {
  readonly panel: ComparePanel;
  private readonly meta: RunMetaCommands;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    extensionUri: vscode.Uri,
    backend: Backend,
    runs: Runs,
    private readonly tree: RunsTree,
    settings: Settings,
    openDashboard: (runDir: string) => void,
  ) {
    this.meta = new RunMetaCommands(backend, runs, () => {
      tree.refresh();
      this.panel.refresh(0);
    });
    this.panel = new ComparePanel(extensionUri, {
      listRuns: () => backend.request(listRuns, { runsRoot: settings.runsDirectory }),
      details: (runDir) => runs.details(runDir),
      rename: (runDir) => void this.meta.rename(runDir),
      editNotes: (runDir) => void this.meta.editNotes(runDir),
      editTags: (runDir) => void this.meta.editTags(runDir),
      openDashboard,
      log: (message) => backend.output.warn(message),
    });
    // Runs appearing, training, deleted: the tree hears of it first.
    this.subscriptions.push(tree.onDidChangeTreeData(() => this.panel.refresh()));
  }

  /** The commands, registered through the extension's error-reporting wrapper. */
  register(command: RegisterCommand): vscode.Disposable[] {
    return [
      // From the Runs view's context menu with several runs selected: (clicked node, all selected nodes).
      command('cxr.compareRuns', (arg, selection) => {
        const nodes = Array.isArray(selection) && selection.length > 0 ? selection : arg !== undefined ? [arg] : [];
        const runDirs = nodes.map(runOfNode).filter((r) => r !== undefined).map((r) => r.runDir);
        this.panel.show(runDirs.length > 1 ? runDirs : runDirs.length === 1 ? this.withNewest(runDirs[0]) : []);
      }),
      command('cxr.renameRun', (arg) => this.meta.rename(arg)),
      command('cxr.editRunNotes', (arg) => this.meta.editNotes(arg)),
      command('cxr.editRunTags', (arg) => this.meta.editTags(arg)),
    ];
  }

  /** One run picked: compare it with the newest other run, so there is a pair to diff. */
  private withNewest(runDir: string): string[] {
    const other = this.tree.lastRuns.find((r) => r.runDir !== runDir);
    return other ? [runDir, other.runDir] : [runDir];
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.panel.dispose();
  }
}

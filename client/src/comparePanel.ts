import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunDetails, RunSummary } from '../../common/src/protocol';
import { compareRunOf, type CompareRun } from '../../common/src/compareRuns';
import type { CompareFromWebview, CompareState, CompareToWebview } from '../../common/src/webviewProtocol';
import { errorMessage } from './errors';
import { SingleCxrPanel } from './webviewHtml';

export interface CompareActions {
  listRuns(): Promise<RunSummary[]>;
  details(runDir: string): Promise<RunDetails>;
  rename(runDir: string): void;
  editNotes(runDir: string): void;
  editTags(runDir: string): void;
  openDashboard(runDir: string): void;
  log(message: string): void;
}

const TITLE = 'Compare Runs';
/** Runs ticked when the view opens without a selection: the newest few, enough for a first diff. */
const DEFAULT_TICKED = 2;

/**
 * The Compare Runs view (`cxr.compare`), one panel. Every `ready` (first load, each reveal, a window reload) gets the
 * whole state again, read from the run store; the ticked runs are the one thing the panel itself remembers.
 */
export class ComparePanel implements vscode.Disposable {
  private readonly single: SingleCxrPanel<CompareFromWebview, CompareToWebview>;
  /** The ticked runs; null until the user (or the command's selection) ticks some: then the newest are ticked. */
  private selected: string[] | null = null;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    extensionUri: vscode.Uri,
    private readonly actions: CompareActions,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.compare',
      entry: 'compare',
      onReady: () => void this.postState(),
      onMessage: (m) => this.onMessage(m),
    });
  }

  private get panel(): vscode.WebviewPanel | undefined {
    return this.single.panel;
  }

  /** Opens (or reveals) the view; `runDirs`, when given, become the ticked runs. */
  show(runDirs: string[] = []): void {
    if (runDirs.length > 0) this.selected = runDirs.map((d) => path.resolve(d));
    else if (!this.panel) this.selected = null;
    if (!this.single.show(TITLE)) void this.postState();
  }

  /** A Compare Runs view VS Code restored after a window reload, with the runs it had ticked. */
  restore(panel: vscode.WebviewPanel, saved: Partial<CompareState> | undefined): void {
    if (this.panel) {
      panel.dispose();
      return;
    }
    this.selected = Array.isArray(saved?.selected) ? saved.selected.filter((d): d is string => typeof d === 'string') : null;
    this.single.restore(panel, TITLE);
  }

  /** Re-reads the runs (after a rename, a training epoch, a deleted run); debounced, and only while open. */
  refresh(delayMs = 300): void {
    if (!this.panel) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.postState();
    }, delayMs);
  }

  private onMessage(message: Exclude<CompareFromWebview, { type: 'ready' }>): void {
    switch (message.type) {
      case 'refresh':
        void this.postState();
        break;
      case 'select':
        this.selected = message.runDirs.filter((d) => typeof d === 'string');
        break;
      case 'rename':
        this.actions.rename(message.runDir);
        break;
      case 'editNotes':
        this.actions.editNotes(message.runDir);
        break;
      case 'editTags':
        this.actions.editTags(message.runDir);
        break;
      case 'openDashboard':
        this.actions.openDashboard(message.runDir);
        break;
    }
  }

  private async postState(): Promise<void> {
    const state = await this.readState();
    await this.single.post({ type: 'state', state });
  }

  private async readState(): Promise<CompareState> {
    let summaries: RunSummary[];
    try {
      summaries = await this.actions.listRuns();
    } catch (e) {
      return { runs: [], selected: [], error: `Could not list the runs: ${errorMessage(e)}` };
    }
    const runs: CompareRun[] = [];
    const unreadable: string[] = [];
    await Promise.all(
      summaries.map(async (s, i) => {
        try {
          runs[i] = compareRunOf(await this.actions.details(s.runDir));
        } catch (e) {
          unreadable.push(s.name);
          this.actions.log(`Compare Runs: ${s.runDir} left out: ${errorMessage(e)}`);
        }
      }),
    );
    const listed = runs.filter((r) => r !== undefined);
    const known = new Set(listed.map((r) => r.runDir));
    const selected = this.selected === null ? listed.slice(0, DEFAULT_TICKED).map((r) => r.runDir) : this.selected.filter((d) => known.has(d));
    this.selected = selected;
    return {
      runs: listed,
      selected,
      error: unreadable.length ? `Left out, could not be read: ${unreadable.join(', ')}` : null,
    };
  }

  dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.single.dispose();
  }
}

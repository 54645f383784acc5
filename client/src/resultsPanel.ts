import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ImagePrediction } from '../../common/src/protocol';
import { resultRows, resultsCsv, type ResultsFromWebview, type ResultsState, type ResultsToWebview } from '../../common/src/resultsTable';
import type { Backend } from './backend';
import { errorMessage } from './errors';
import { SingleCxrPanel } from './webviewHtml';

/**
 * The results of classifying several images (`cxr.results`): a sortable table whose rows open the heatmap, saved as
 * CSV through a save dialog (proposed in the model's run folder, never inside a dataset). It survives a window reload:
 * the webview keeps its rows with setState and the serializer hands them back.
 */
export class ResultsPanel implements vscode.Disposable {
  private readonly single: SingleCxrPanel<ResultsFromWebview, ResultsToWebview>;
  private state: ResultsState | undefined;
  private readonly serializer: vscode.Disposable;

  constructor(
    extensionUri: vscode.Uri,
    private readonly backend: Backend,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.results',
      entry: 'results',
      onReady: () => {
        if (this.state) void this.post({ type: 'state', state: this.state });
      },
      onMessage: (m) => void this.onMessage(m),
    });
    this.serializer = vscode.window.registerWebviewPanelSerializer('cxr.results', {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel, saved: unknown) => {
        const state = saved as ResultsState | undefined;
        if (this.single.panel || !state || !Array.isArray(state.rows) || !Array.isArray(state.classes)) {
          panel.dispose();
          return;
        }
        this.state = state;
        this.single.restore(panel, this.title(state));
      },
    });
  }

  show(runDir: string, classes: string[], predictions: readonly ImagePrediction[]): void {
    const rows = resultRows(predictions);
    this.state = {
      runDir,
      model: path.basename(runDir),
      classes: classes.length ? classes : Object.keys(predictions[0]?.probabilities ?? {}),
      rows,
      calibrated: predictions.some((p) => p.calibratedProbabilities !== undefined),
      savedTo: null,
    };
    if (!this.single.show(this.title(this.state))) void this.post({ type: 'state', state: this.state });
  }

  private title(state: ResultsState): string {
    return `Classified: ${state.rows.length} images (${state.model})`;
  }

  private async onMessage(m: Exclude<ResultsFromWebview, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'openHeatmap':
        if (this.state?.rows.some((r) => r.file === m.file)) await vscode.commands.executeCommand('cxr.showHeatmap', vscode.Uri.file(m.file));
        return;
      case 'saveCsv':
        return this.saveCsv();
    }
  }

  private async saveCsv(): Promise<void> {
    const state = this.state;
    if (!state) return;
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
    const exportsDir = path.join(state.runDir, 'exports');
    // The dialog proposes the run's exports folder; made first so that it does not ask whether to create it.
    await fs.promises.mkdir(exportsDir, { recursive: true }).catch(() => undefined);
    const target = await vscode.window.showSaveDialog({
      title: 'Save the classification results as CSV',
      defaultUri: vscode.Uri.file(path.join(exportsDir, `classified-${stamp}.csv`)),
      filters: { 'CSV files': ['csv'] },
      saveLabel: 'Save CSV',
    });
    if (!target) return;
    try {
      await fs.promises.mkdir(path.dirname(target.fsPath), { recursive: true });
      await fs.promises.writeFile(target.fsPath, resultsCsv(state));
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not save ${target.fsPath}: ${errorMessage(e)}`);
      return;
    }
    state.savedTo = target.fsPath;
    this.backend.output.info(`Saved ${state.rows.length} classification results to ${target.fsPath}`);
    await this.post({ type: 'saved', path: target.fsPath, rows: state.rows.length });
    void vscode.window.showInformationMessage(`Saved ${state.rows.length} classification results to ${target.fsPath}.`);
  }

  private async post(message: ResultsToWebview): Promise<void> {
    await this.single.post(message);
  }

  dispose(): void {
    this.serializer.dispose();
    this.single.dispose();
  }
}

import * as path from 'node:path';
import * as vscode from 'vscode';
import { BROWSER_IMAGE_MIME } from '../../common/src/protocol';
import type { EvaluateResult, EvaluatedImage } from '../../common/src/protocol';
import { EvaluationFromWebview, EvaluationImage, EvaluationState, EvaluationToWebview } from '../../common/src/webviewProtocol';
import { SingleCxrPanel, webviewOptions } from './webviewHtml';

/** Folders added to localResourceRoots for thumbnails; beyond this, the dataset root alone must cover them. */
const MAX_IMAGE_ROOTS = 32;

export interface EvaluationActions {
  reevaluate(runDir: string, data: string, split: string): void;
}

/**
 * The evaluation report (`cxr.evaluation`): one panel showing the latest evaluation asked for. Misclassified images are
 * shown through webview URIs, so the dataset folder is added to the panel's localResourceRoots.
 */
export class EvaluationPanel implements vscode.Disposable {
  private readonly single: SingleCxrPanel<EvaluationFromWebview, EvaluationToWebview>;
  private result: EvaluateResult | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly actions: EvaluationActions,
  ) {
    this.single = new SingleCxrPanel(extensionUri, {
      viewType: 'cxr.evaluation',
      entry: 'evaluation',
      onReady: () => void this.postState(),
      onMessage: (m) => this.onMessage(m),
    });
  }

  private get panel(): vscode.WebviewPanel | undefined {
    return this.single.panel;
  }

  /** An evaluation VS Code restored after a window reload, showing the saved evaluation of the run and split it showed. */
  restore(panel: vscode.WebviewPanel, result: EvaluateResult): void {
    if (this.panel) {
      panel.dispose();
      return;
    }
    this.result = result;
    this.single.restore(panel, evaluationTitle(result), webviewOptions(this.extensionUri, imageRoots(result)));
  }

  show(result: EvaluateResult): void {
    this.result = result;
    if (!this.single.show(evaluationTitle(result), { options: webviewOptions(this.extensionUri, imageRoots(result)) })) void this.postState();
  }

  private onMessage(message: Exclude<EvaluationFromWebview, { type: 'ready' }>): void {
    switch (message.type) {
      case 'openImage':
        // From a confusion-matrix cell: the evaluated run explains it, and the viewer shows the true label.
        void vscode.commands.executeCommand(
          'cxr.showHeatmap',
          message.trueLabel && this.result ? { kind: 'image', file: message.file, trueLabel: message.trueLabel, runDir: this.result.run } : vscode.Uri.file(message.file),
        );
        break;
      case 'cellImages':
        void this.postCellImages(message.trueLabel, message.predicted);
        break;
      case 'openReport':
        // The Markdown report reads best rendered; anything else opens as it is.
        void vscode.commands.executeCommand(message.file.endsWith('.md') ? 'markdown.showPreview' : 'vscode.open', vscode.Uri.file(message.file));
        break;
      case 'reevaluate':
        if (this.result) this.actions.reevaluate(this.result.run, this.result.data, this.result.split);
        break;
    }
  }

  private async postState(): Promise<void> {
    if (!this.panel || !this.result) return;
    const webview = this.panel.webview;
    const r = this.result;
    const misclassified: EvaluationImage[] = r.predictions.filter((p) => !p.correct).map((p) => evaluationImage(webview, p));
    const state: EvaluationState = { runName: path.basename(r.run), result: { ...r, predictions: [] }, misclassified };
    const message: EvaluationToWebview = { type: 'state', state };
    await webview.postMessage(message);
  }

  /** The images of one confusion-matrix cell, most confident first. */
  private async postCellImages(trueLabel: string, predicted: string): Promise<void> {
    if (!this.panel || !this.result) return;
    const webview = this.panel.webview;
    const images = this.result.predictions
      .filter((p) => p.trueLabel === trueLabel && p.label === predicted)
      .map((p) => evaluationImage(webview, p))
      .sort((a, b) => b.confidence - a.confidence);
    const message: EvaluationToWebview = { type: 'cellImages', trueLabel, predicted, images };
    await webview.postMessage(message);
  }

  dispose(): void {
    this.single.dispose();
  }
}

function evaluationImage(webview: vscode.Webview, p: EvaluatedImage): EvaluationImage {
  return {
    file: p.file,
    // formats the browser shows by itself; DICOM gets a placeholder
    src: path.extname(p.file).toLowerCase() in BROWSER_IMAGE_MIME ? webview.asWebviewUri(vscode.Uri.file(p.file)).toString() : null,
    trueLabel: p.trueLabel,
    label: p.label,
    confidence: p.probabilities[p.label] ?? 0,
    trueConfidence: p.probabilities[p.trueLabel] ?? 0,
  };
}

function evaluationTitle(r: EvaluateResult): string {
  return `Evaluation: ${path.basename(r.run)} (${r.split})`;
}

/** The dataset folder (a CSV's folder) plus the folders of images outside it (a CSV's ../ rows), for thumbnails. */
function imageRoots(r: EvaluateResult): vscode.Uri[] {
  const root = /\.csv$/i.test(r.data) ? path.dirname(r.data) : r.data;
  const folders = new Set<string>([root]);
  for (const p of r.predictions) {
    if (folders.size >= MAX_IMAGE_ROOTS) break;
    if (!isInside(p.file, root)) folders.add(path.dirname(p.file));
  }
  return [...folders].map((f) => vscode.Uri.file(f));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

import * as path from 'node:path';
import * as vscode from 'vscode';
import { IMAGE_EXTENSIONS, isOneOf, predict } from '../../common/src/protocol';
import type { ImagePrediction } from '../../common/src/protocol';
import type { Backend } from './backend';
import { showError } from './errors';
import type { HeatmapContext, HeatmapEditorProvider } from './heatmapEditor';
import type { ResultsPanel } from './resultsPanel';
import type { Runs } from './runs';

export const RESEARCH_CAVEAT = 'Research use only, not a diagnostic device: the model was trained on a small public dataset and its output is not a diagnosis.';

/** "Covid (97.1%) · Normal 2.0% · Viral Pneumonia 0.9%": the predicted class first, then the others by probability. */
export function formatPrediction(p: ImagePrediction): string {
  // Out-of-distribution inputs and low-confidence predictions never read as a confident class.
  if (p.status === 'refused') return `Refused: ${p.ood?.reason ?? 'outside what the model knows'}`;
  const entries = Object.entries(p.calibratedProbabilities ?? p.probabilities).sort((a, b) => b[1] - a[1]);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const top = entries.find(([name]) => name === p.label) ?? entries[0];
  const rest = entries.filter(([name]) => name !== top[0]);
  const text = [`${top[0]} (${pct(top[1])})`, ...rest.map(([name, v]) => `${name} ${pct(v)}`)].join(' · ');
  return p.status === 'uncertain' ? `Uncertain (leaning ${text})` : text;
}

/** `cxr.classifyImage` and `cxr.showHeatmap`. */
export class ClassifyCommands {
  constructor(
    private readonly backend: Backend,
    private readonly runs: Runs,
    private readonly heatmaps: HeatmapEditorProvider,
    private readonly results: ResultsPanel,
  ) {}

  async classify(arg?: unknown, selection?: unknown): Promise<void> {
    const files = await imageFilesOf(arg, selection);
    if (files.length === 0) return;
    const run = await this.runs.requireActiveModel();
    if (!run) return;
    let predictions: ImagePrediction[];
    try {
      predictions = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `CXR: classifying ${files.length === 1 ? path.basename(files[0]) : `${files.length} images`}` },
        () => this.backend.request(predict, { run, files }),
      );
    } catch (e) {
      return showError('Classification failed', e, this.backend.output, files[0]);
    }
    const model = path.basename(run);
    for (const p of predictions) this.backend.output.info(`Classified ${p.file} with ${model}: ${formatPrediction(p)}`);
    if (predictions.length === 1) {
      const p = predictions[0];
      const choice = await vscode.window.showInformationMessage(
        `${formatPrediction(p)} — ${path.basename(p.file)} (model ${model}; research use only, not a diagnosis)`,
        { detail: RESEARCH_CAVEAT },
        'Show Heatmap',
      );
      if (choice === 'Show Heatmap') await this.showHeatmap(vscode.Uri.file(p.file));
      return;
    }
    // Several images: a results table that can be sorted, opened as heatmaps and saved as CSV.
    this.results.show(run, [], predictions);
  }

  async showHeatmap(arg?: unknown, selection?: unknown): Promise<void> {
    const files = await imageFilesOf(arg, selection, false);
    const context = heatmapContextOf(arg);
    this.heatmaps.show(files.map((file) => vscode.Uri.file(file)), context);
  }
}

/**
 * The image files a command was invoked on: the explorer selection, a Datasets view image, the active editor's file,
 * or else files picked in an open dialog.
 */
async function imageFilesOf(arg: unknown, selection: unknown, many = true): Promise<string[]> {
  const fromArgs = [...(Array.isArray(selection) ? selection : []), ...(Array.isArray(selection) && selection.length > 0 ? [] : [arg])]
    .map(fileOfArg)
    .filter((f): f is string => f !== undefined);
  const candidates = fromArgs.length > 0 ? fromArgs : activeEditorFile() ? [activeEditorFile() as string] : [];
  const images = candidates.filter(isImage);
  if (candidates.length > 0 && images.length === 0) {
    void vscode.window.showWarningMessage('CXR Studio reads PNG, JPEG and DICOM (.dcm) images only.');
    return [];
  }
  if (images.length > 0) return many ? images : images.slice(0, 8);
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: many,
    filters: { 'Chest X-ray images': ['png', 'jpg', 'jpeg', 'dcm'] },
    title: 'Chest X-ray image',
  });
  return (picked ?? []).map((u) => u.fsPath);
}

/** An evaluation's image (`{kind: 'image', file, trueLabel, runDir}`): explained by that run, showing its true label. */
function heatmapContextOf(arg: unknown): HeatmapContext | undefined {
  if (typeof arg !== 'object' || arg === null || (arg as { kind?: unknown }).kind !== 'image') return undefined;
  const { trueLabel, runDir } = arg as { trueLabel?: unknown; runDir?: unknown };
  if (typeof trueLabel !== 'string' && typeof runDir !== 'string') return undefined;
  return { trueLabel: typeof trueLabel === 'string' ? trueLabel : undefined, runDir: typeof runDir === 'string' ? runDir : undefined };
}

function fileOfArg(arg: unknown): string | undefined {
  if (arg instanceof vscode.Uri) return arg.scheme === 'file' ? arg.fsPath : undefined;
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && (arg as { kind?: unknown }).kind === 'image') return (arg as { file: string }).file;
  return undefined;
}

function activeEditorFile(): string | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri?.scheme === 'file' ? uri.fsPath : undefined;
}

function isImage(file: string): boolean {
  return isOneOf(IMAGE_EXTENSIONS, path.extname(file).toLowerCase());
}

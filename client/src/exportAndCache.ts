import * as path from 'node:path';
import * as vscode from 'vscode';
import { cacheInfo, clearCache, exportModel } from '../../common/src/protocol';
import { EXPORT_FORMATS } from '../../server/src/engine/names';
import type { Backend } from './backend';
import type { Runs } from './runs';

/** `cxr.exportModel` (Runs view): writes the run's model as ONNX or TF.js where the user picks. */
export async function exportRunCommand(backend: Backend, runs: Runs, arg: unknown): Promise<void> {
  const run = await runs.resolve(arg, 'Export which run?');
  if (!run) return;
  const picked = await vscode.window.showQuickPick(
    EXPORT_FORMATS.map((format) => ({
      label: format,
      format,
      detail: format === 'onnx' ? 'One .onnx file for ONNX Runtime' : 'A folder with model.json and weights.bin for TensorFlow.js',
    })),
    { title: `Export ${path.basename(run)} as`, placeHolder: 'Input: RGB in [0, 1], NHWC; output: probabilities in class order' },
  );
  if (!picked) return;
  // The proposed folder must exist, or the save dialog asks whether to create it (or falls back elsewhere).
  if (picked.format === 'onnx') await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.join(run, 'export'))).then(undefined, () => undefined);
  const target = picked.format === 'onnx'
    ? await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(run, 'export', 'model.onnx')), filters: { ONNX: ['onnx'] } })
    : (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: vscode.Uri.file(run), openLabel: 'Export into this folder' }))?.[0];
  if (!target) return;
  const result = await backend.request(exportModel, { run, format: picked.format, out: target.fsPath });
  const choice = await vscode.window.showInformationMessage(
    `Exported ${path.basename(run)} (${result.format}) to ${result.path}, with its model card ${path.basename(result.modelCard)}.`,
    'Open Model Card',
    'Reveal',
  );
  if (choice === 'Open Model Card') await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(result.modelCard));
  if (choice === 'Reveal') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.path));
}

/** `cxr.featureCache`: where the feature cache is and how large, with a button to empty it. */
export async function featureCacheCommand(backend: Backend): Promise<void> {
  const info = await backend.request(cacheInfo, {});
  const size = `${info.entries - info.auditRecords - info.mapRecords} stored frozen outputs, ${info.auditRecords} audit records, ${info.mapRecords} images' class maps, ${(info.bytes / 2 ** 20).toFixed(1)} MiB`;
  const choice = await vscode.window.showInformationMessage(`CXR feature cache: ${size} in ${info.dir}.`, 'Clear Cache');
  if (choice !== 'Clear Cache') return;
  const cleared = await backend.request(clearCache, {});
  void vscode.window.showInformationMessage(`CXR feature cache cleared (${cleared.entries} entries removed).`);
}

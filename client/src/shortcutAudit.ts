import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelCard, shortcutAudit } from '../../common/src/protocol';
import type { Backend } from './backend';
import { showError } from './errors';
import type { Runs } from './runs';

/**
 * `cxr.shortcutAudit`: runs the shortcut audits of a run on the test split of the data it was trained on (lungs hidden,
 * border only, heatmap energy in the lung field, head weight randomisation), then opens its model card, which shows them.
 */
export async function runShortcutAudit(backend: Backend, runs: Runs, arg?: unknown): Promise<void> {
  const runDir = await runs.resolve(arg, 'Audit which run for shortcuts?');
  if (!runDir) return;
  const details = await runs.requireModel(runDir, 'audit');
  if (!details) return;
  const name = path.basename(runDir);
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Shortcut audits of ${name} on its test split`, cancellable: true },
      (_progress, token) => backend.request(shortcutAudit, { run: runDir, data: details.config.data, split: 'test' }, token),
    );
    const card = await backend.request(modelCard, { run: runDir });
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(card.file));
    void vscode.window.showInformationMessage(`${name}, ${result.n} test images: ${result.checks[0]?.sentence ?? 'no check ran.'}`);
  } catch (e) {
    await showError(`Shortcut audits of ${name} failed`, e, backend.output);
  }
}

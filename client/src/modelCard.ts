import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelCard } from '../../common/src/protocol';
import type { Backend } from './backend';
import { showError } from './errors';
import type { Runs } from './runs';

/** `cxr.showModelCard`: (re)writes the run's MODEL_CARD.md in the backend and opens its Markdown preview. */
export async function showModelCard(backend: Backend, runs: Runs, arg?: unknown): Promise<void> {
  const runDir = await runs.resolve(arg, 'Show the model card of which run?');
  if (!runDir) return;
  try {
    const card = await backend.request(modelCard, { run: runDir });
    await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(card.file));
  } catch (e) {
    await showError(`Model card of ${path.basename(runDir)} failed`, e, backend.output);
  }
}

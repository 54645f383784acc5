import * as path from 'node:path';
import * as vscode from 'vscode';
import { updateRunMeta } from '../../common/src/protocol';
import type { RunMetaUpdate, RunSummary } from '../../common/src/protocol';
import type { Backend } from './backend';
import { errorCode, showError } from './errors';
import type { Runs } from './runs';

type Field = 'displayName' | 'notes' | 'tags';

interface FieldPrompt {
  pick: string;
  title: (run: RunSummary) => string;
  prompt: string;
  value: (run: RunSummary) => string;
  update: (text: string) => Omit<RunMetaUpdate, 'runDir'>;
}

/** Tags as typed on one line: separated by commas or spaces. */
export function splitTags(text: string): string[] {
  return text.split(/[\s,]+/).filter((t) => t !== '');
}

const PROMPTS: Record<Field, FieldPrompt> = {
  displayName: {
    pick: 'Rename which run?',
    title: (r) => `Rename run ${r.name}`,
    prompt: 'The name shown for this run (its folder keeps its name). Leave empty to show the folder name.',
    value: (r) => r.displayName ?? r.name,
    update: (text) => ({ displayName: text.trim() === '' ? null : text }),
  },
  notes: {
    pick: 'Edit the notes of which run?',
    title: (r) => `Notes on ${r.displayName ?? r.name}`,
    prompt: 'Notes on this run (what you tried, what you saw). Leave empty to remove them.',
    value: (r) => r.notes,
    update: (text) => ({ notes: text }),
  },
  tags: {
    pick: 'Edit the tags of which run?',
    title: (r) => `Tags of ${r.displayName ?? r.name}`,
    prompt: 'Tags separated by commas or spaces, e.g. "baseline, lr-sweep". Leave empty to remove them.',
    value: (r) => r.tags.join(', '),
    update: (text) => ({ tags: splitTags(text) }),
  },
};

/**
 * Rename, notes and tags of a run, from the Runs view's context menu, the palette or the Compare Runs view. The run
 * store (cxr/updateRunMeta) checks and keeps them; a refused value is offered again with the reason.
 */
export class RunMetaCommands {
  constructor(
    private readonly backend: Backend,
    private readonly runs: Runs,
    private readonly onChanged: (run: RunSummary) => void,
  ) {}

  rename(arg: unknown): Promise<RunSummary | undefined> {
    return this.edit('displayName', arg);
  }

  editNotes(arg: unknown): Promise<RunSummary | undefined> {
    return this.edit('notes', arg);
  }

  editTags(arg: unknown): Promise<RunSummary | undefined> {
    return this.edit('tags', arg);
  }

  private async edit(field: Field, arg: unknown): Promise<RunSummary | undefined> {
    const p = PROMPTS[field];
    const runDir = await this.runs.resolve(arg, p.pick);
    if (!runDir) return undefined;
    let run: RunSummary;
    try {
      run = (await this.runs.details(runDir)).summary;
    } catch (e) {
      await showError(`Cannot edit ${path.basename(runDir)}`, e, this.backend.output);
      return undefined;
    }
    let value = p.value(run);
    let refused: { value: string; why: string } | undefined;
    for (;;) {
      const refusedNow = refused;
      const text = await vscode.window.showInputBox({
        title: p.title(run),
        prompt: refusedNow ? `Not saved: ${refusedNow.why}` : p.prompt,
        value,
        ignoreFocusOut: true,
        validateInput: (v) => (refusedNow && v === refusedNow.value ? refusedNow.why : undefined),
      });
      if (text === undefined) return undefined;
      try {
        const updated = await this.backend.request(updateRunMeta, { runDir, ...p.update(text) });
        this.onChanged(updated);
        return updated;
      } catch (e) {
        if (errorCode(e) !== 'INVALID_ARGUMENT') {
          await showError(`Could not save the ${field === 'displayName' ? 'name' : field} of ${run.displayName ?? run.name}`, e, this.backend.output);
          return undefined;
        }
        // Offered again with the backend's reason shown under the input.
        value = text;
        refused = { value: text, why: e instanceof Error ? e.message : String(e) };
      }
    }
  }
}

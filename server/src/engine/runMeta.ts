/**
 * The rules for what a user may say about a run (display name, notes, tags): checked here once, so the run store,
 * the backend and the CLI refuse the same input with the same INVALID_ARGUMENT error. The run store owns the file.
 */
import type { RunMeta } from './api';
import { CxrError } from './errors';

export const RUN_META_LIMITS = { displayName: 80, notes: 10_000, tag: 32, tags: 20 } as const;

export const EMPTY_RUN_META: RunMeta = { displayName: null, notes: '', tags: [] };

// Control characters would hide in a tree label or break a line of the Runs view; tabs and newlines are fine in notes.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROL_OR_WHITESPACE_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** A tag is one word-like token: letters, digits and - _ . + / : (no spaces or commas, so a list of tags reads back). */
const TAG = /^[\p{L}\p{N}][\p{L}\p{N}\-_.+/:]*$/u;

function invalid(field: string, message: string, extra: Record<string, unknown> = {}): CxrError {
  return new CxrError('INVALID_ARGUMENT', message, { field, ...extra });
}

/** A display name as stored: trimmed, one line, 1..80 characters; null or '' means "the folder name". */
export function checkDisplayName(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw invalid('displayName', 'A run name must be a string (or null to use the folder name).');
  const name = value.trim();
  if (name === '') return null;
  if (CONTROL_OR_WHITESPACE_BREAK.test(name)) throw invalid('displayName', 'A run name must be one line without control characters.');
  if ([...name].length > RUN_META_LIMITS.displayName) {
    throw invalid('displayName', `A run name may have at most ${RUN_META_LIMITS.displayName} characters.`, { limit: RUN_META_LIMITS.displayName });
  }
  return name;
}

/** Notes as stored: any text up to 10,000 characters, without control characters other than tab and newline. */
export function checkNotes(value: unknown): string {
  if (typeof value !== 'string') throw invalid('notes', 'Run notes must be a string.');
  const notes = value.replace(/\r\n?/g, '\n').trimEnd();
  if (CONTROL.test(notes)) throw invalid('notes', 'Run notes must not contain control characters (tabs and new lines are fine).');
  if ([...notes].length > RUN_META_LIMITS.notes) {
    throw invalid('notes', `Run notes may have at most ${RUN_META_LIMITS.notes} characters.`, { limit: RUN_META_LIMITS.notes });
  }
  return notes;
}

/** Tags as stored: each a token of 1..32 characters (see TAG), duplicates dropped, at most 20. */
export function checkTags(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid('tags', 'Run tags must be an array of strings.');
  const tags: string[] = [];
  for (const raw of value) {
    if (typeof raw !== 'string') throw invalid('tags', 'Each run tag must be a string.');
    const tag = raw.trim();
    if (!TAG.test(tag) || [...tag].length > RUN_META_LIMITS.tag) {
      throw invalid(
        'tags',
        `'${tag.slice(0, 40)}' is not a tag: use 1 to ${RUN_META_LIMITS.tag} letters, digits or - _ . + / : starting with a letter or digit (no spaces or commas).`,
        { tag: tag.slice(0, 40) },
      );
    }
    if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > RUN_META_LIMITS.tags) throw invalid('tags', `A run may have at most ${RUN_META_LIMITS.tags} tags.`, { limit: RUN_META_LIMITS.tags });
  return tags;
}

/** A meta.json as read back: anything unreadable or invalid in it counts as not set, so the run still lists. */
export function metaFromFile(raw: unknown): RunMeta {
  const o = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const tolerant = <T>(check: () => T, fallback: T): T => {
    try {
      return check();
    } catch {
      return fallback;
    }
  };
  return {
    displayName: tolerant(() => checkDisplayName(o.displayName ?? null), null),
    notes: tolerant(() => checkNotes(o.notes ?? ''), ''),
    tags: tolerant(() => checkTags(o.tags ?? []), []),
  };
}

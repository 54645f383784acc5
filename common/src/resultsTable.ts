/**
 * The classification results table (viewType `cxr.results`): one row per classified image with its class, every
 * class's probability and its flags, sortable, each row opening the heatmap, saved as CSV. The rows and the CSV are
 * made here, once, for the extension and the webview alike.
 */
import type { ImagePrediction } from '../../server/src/engine/api';

export type ResultFlag = 'OOD' | 'low confidence';

export interface ResultRow {
  file: string;
  name: string;
  /** The predicted class ('' when the model refused the image). */
  label: string;
  status: 'confident' | 'uncertain' | 'refused';
  /** Probability of `label` (calibrated where the run has a temperature). */
  confidence: number;
  /** Per class, calibrated where the run has a temperature. */
  probabilities: Record<string, number>;
  flags: ResultFlag[];
  /** Why the image was flagged out of distribution, in plain words. */
  reason: string | null;
}

export interface ResultsState {
  runDir: string;
  model: string;
  classes: string[];
  rows: ResultRow[];
  /** The probabilities are temperature-calibrated. */
  calibrated: boolean;
  /** Where the table was last saved as CSV. */
  savedTo: string | null;
}

export type ResultsToWebview = { type: 'state'; state: ResultsState } | { type: 'saved'; path: string; rows: number };

export type ResultsFromWebview = { type: 'ready' } | { type: 'openHeatmap'; file: string } | { type: 'saveCsv' };

export const ResultsIds = {
  table: 'results-table',
  saveCsv: 'save-csv',
  summary: 'results-summary',
  saved: 'results-saved',
  researchNote: 'research-note',
} as const;

/** Sortable columns: file name, class, confidence, flags, or one class's probability (`p:<class>`). */
export type ResultsSortKey = 'name' | 'label' | 'confidence' | 'flags' | `p:${string}`;

export function resultRows(predictions: readonly ImagePrediction[]): ResultRow[] {
  return predictions.map((p) => {
    const probabilities = p.calibratedProbabilities ?? p.probabilities;
    const status = p.status ?? 'confident';
    const flags: ResultFlag[] = [];
    if (status === 'refused' || p.ood?.flagged) flags.push('OOD');
    if (status === 'uncertain') flags.push('low confidence');
    return {
      file: p.file,
      name: p.file.split(/[\\/]/).pop() ?? p.file,
      label: status === 'refused' ? '' : p.label,
      status,
      confidence: probabilities[p.label] ?? 0,
      probabilities,
      flags,
      reason: p.ood?.flagged ? p.ood.reason : null,
    };
  });
}

export function sortRows(rows: readonly ResultRow[], key: ResultsSortKey, descending: boolean): ResultRow[] {
  const value = (r: ResultRow): string | number =>
    key === 'name' ? r.name
    : key === 'label' ? r.label
    : key === 'confidence' ? r.confidence
    : key === 'flags' ? r.flags.join(', ')
    : (r.probabilities[key.slice(2)] ?? 0);
  const sorted = [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return c !== 0 ? c : a.name.localeCompare(b.name);
  });
  return descending ? sorted.reverse() : sorted;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** RFC 4180 CSV: file, class, status, flags, confidence, one probability column per class, the OOD reason. */
export function resultsCsv(state: Pick<ResultsState, 'classes' | 'rows'>): string {
  const header = ['file', 'class', 'status', 'flags', 'confidence', ...state.classes.map((c) => `p(${c})`), 'ood_reason'];
  const lines = [header.map(csvField).join(',')];
  for (const r of state.rows) {
    lines.push(
      [r.file, r.label, r.status, r.flags.join('; '), r.confidence.toFixed(6), ...state.classes.map((c) => (r.probabilities[c] ?? 0).toFixed(6)), r.reason ?? '']
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

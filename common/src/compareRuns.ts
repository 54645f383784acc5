/**
 * What the Compare Runs view shows of a run, and the pure helpers both sides use: the row built from the run store's
 * details (extension host), the flattened configuration and its diff, and the table's sort (webview).
 */
import type { AugmentParams, EpochMetrics, Interval, RunConfig, RunDetails, RunStatus } from '../../server/src/engine/api';

export interface CompareRun {
  runDir: string;
  /** The folder name. */
  folder: string;
  /** The display name the user gave it, else the folder name. */
  label: string;
  status: RunStatus;
  createdAt: string;
  backbone: string;
  epochs: number;
  epochsRun: number;
  learningRate: number;
  momentum: number;
  batchSize: number;
  seed: number;
  augmentation: string;
  bestValAccuracy: number | null;
  /** The saved evaluation of the test split, when there is one. */
  test: { accuracy: number; ci: Interval; n: number } | null;
  tags: string[];
  notes: string;
  /** The configuration as key -> printed value (nested keys dotted), for the diff. */
  config: Record<string, string>;
  history: EpochMetrics[];
}

export function augmentationLabel(augment: AugmentParams | null | undefined): string {
  if (!augment) return 'off';
  return `rotate ±${augment.rotationDeg}°, shift ${augment.widthShift}×${augment.heightShift}, zoom ${augment.zoom}`;
}

/** Keys that always differ between runs and say nothing about how they were trained. */
const NOT_COMPARED = new Set(['version', 'createdAt']);

/** The configuration as dotted keys in a stable order, every value printed (arrays joined, null as 'none'). */
export function flattenConfig(config: RunConfig): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown): void => {
    if (value === undefined) return;
    if (value === null) out[key] = 'none';
    else if (Array.isArray(value)) out[key] = value.map(String).join(', ');
    else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) put(`${key}.${k}`, v);
    else out[key] = String(value);
  };
  for (const [key, value] of Object.entries(config)) if (!NOT_COMPARED.has(key)) put(key, value);
  return out;
}

export interface ConfigDiffRow {
  key: string;
  a: string | null;
  b: string | null;
  differs: boolean;
}

/** Every key of either configuration, in first-seen order; a key one of them lacks differs. */
export function diffConfigs(a: Record<string, string>, b: Record<string, string>): ConfigDiffRow[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.map((key) => {
    const va = key in a ? a[key] : null;
    const vb = key in b ? b[key] : null;
    return { key, a: va, b: vb, differs: va !== vb };
  });
}

export function compareRunOf(details: RunDetails): CompareRun {
  const s = details.summary;
  const c = details.config;
  const test = details.evaluations.find((e) => e.split === 'test');
  return {
    runDir: s.runDir,
    folder: s.name,
    label: s.displayName ?? s.name,
    status: s.status,
    createdAt: s.createdAt,
    backbone: c.backbone,
    epochs: c.epochs,
    epochsRun: s.epochsRun,
    learningRate: c.learningRate,
    momentum: c.momentum,
    batchSize: c.batchSize,
    seed: c.seed,
    augmentation: augmentationLabel(c.augment),
    bestValAccuracy: s.bestValAccuracy,
    test: test ? { accuracy: test.accuracy, ci: test.accuracy_ci, n: test.n } : null,
    tags: s.tags,
    notes: s.notes,
    config: flattenConfig(c),
    history: details.history,
  };
}

/** The sortable columns of the runs table, in display order. */
export const COMPARE_COLUMNS = [
  { key: 'label', title: 'Name' },
  { key: 'status', title: 'Status' },
  { key: 'createdAt', title: 'Date' },
  { key: 'backbone', title: 'Backbone' },
  { key: 'epochs', title: 'Epochs' },
  { key: 'learningRate', title: 'LR' },
  { key: 'momentum', title: 'Momentum' },
  { key: 'batchSize', title: 'Batch' },
  { key: 'seed', title: 'Seed' },
  { key: 'augmentation', title: 'Augmentation' },
  { key: 'bestValAccuracy', title: 'Best val acc.' },
  { key: 'test', title: 'Test acc. (95% CI)' },
  { key: 'tags', title: 'Tags' },
] as const;

export type CompareColumn = (typeof COMPARE_COLUMNS)[number]['key'];

export interface CompareSort {
  column: CompareColumn;
  descending: boolean;
}

function sortValue(run: CompareRun, column: CompareColumn): string | number | null {
  switch (column) {
    case 'test':
      return run.test?.accuracy ?? null;
    case 'tags':
      return run.tags.join(' ').toLowerCase() || null;
    case 'epochs':
      return run.epochsRun;
    case 'label':
    case 'augmentation':
      return run[column].toLowerCase();
    default:
      return run[column];
  }
}

/** The runs sorted by one column; runs without a value (not evaluated) always come last, ties keep their order. */
export function sortRuns(runs: readonly CompareRun[], sort: CompareSort): CompareRun[] {
  const sign = sort.descending ? -1 : 1;
  return runs
    .map((run, i) => ({ run, i, v: sortValue(run, sort.column) }))
    .sort((x, y) => {
      if (x.v === null || y.v === null) return x.v === y.v ? x.i - y.i : x.v === null ? 1 : -1;
      const c = typeof x.v === 'number' && typeof y.v === 'number' ? x.v - y.v : String(x.v).localeCompare(String(y.v));
      return c !== 0 ? sign * c : x.i - y.i;
    })
    .map((e) => e.run);
}

import * as path from 'node:path';
import type { AuditDuplicatePair, AuditFinding, AuditRequest, AuditResult, AuditSeverity } from '../api';
import { classCounts, loadDataset, type DatasetIndex } from '../data/dataset';
import { CxrError, toCxrError } from '../errors';
import type { PathPolicy } from '../security/pathPolicy';
import { mapLimit, yieldToEventLoop } from '../util/concurrency';
import { NEAR_DUPLICATE_MAX_DISTANCE, NEAR_DUPLICATE_MIN_CORRELATION, type ProbedItem } from './duplicates';
import {
  countPairs,
  duplicateTotals,
  findDuplicateSets,
  listGroups,
  listPairs,
  MAX_LISTED_PAIRS,
  testFilesWithTrainDuplicate,
  type DuplicateSets,
} from './duplicateSets';
import { featureCacheEnabled } from '../cache/featureCache';
import { ProbeCache } from '../cache/probeCache';
import { probeImage, type ProbeRecord, type ProbeStore } from './imageProbe';
import { sourceConfoundProbe, type ConfoundProbeResult } from './sourceConfound';

export interface AuditOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Files the audit may read (CSV rows and symlinks inside the dataset included). */
  paths?: PathPolicy;
  /** Records of file contents probed before; default: the disk cache (none when CXR_FEATURE_CACHE=off). */
  store?: ProbeStore | null;
}

const SEVERITY_RANK: Record<AuditSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** Audits a dataset: duplicates within and across splits, the source-confound probe, patients, balance, loader warnings. */
export async function auditDataset(req: AuditRequest, opts: AuditOptions = {}): Promise<AuditResult> {
  const started = Date.now();
  const dataset = await loadDataset(req.data, opts.paths);
  const probed: ProbedItem[] = [];
  const unreadable: { file: string; reason: string }[] = [];
  const store = countingStore(opts.store !== undefined ? opts.store : featureCacheEnabled() ? new ProbeCache() : null);
  const chunk = 16;
  for (let start = 0; start < dataset.items.length; start += chunk) {
    if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Audit cancelled.');
    const part = dataset.items.slice(start, start + chunk);
    const results = await mapLimit(part, 4, async (item) => {
      try {
        return { item, probe: await probeImage(item.path, store) };
      } catch (e) {
        unreadable.push({ file: item.path, reason: toCxrError(e).message });
        return null;
      }
    });
    for (const r of results) if (r) probed.push({ probe: r.probe, label: r.item.label, split: r.item.split ?? 'unassigned' });
    opts.onProgress?.(Math.min(start + chunk, dataset.items.length), dataset.items.length);
    await yieldToEventLoop();
  }

  const sets = findDuplicateSets(probed);
  const listed = [...listPairs(sets, 'train-test'), ...listPairs(sets, 'within-split')].slice(0, MAX_LISTED_PAIRS);
  const labelsPresent = dataset.classes.filter((c) => probed.some((p) => p.label === c));
  const confound =
    labelsPresent.length >= 2 && probed.length >= 10
      ? sourceConfoundProbe(
          probed.map((p) => p.probe),
          probed.map((p) => labelsPresent.indexOf(p.label)),
          labelsPresent.length,
          req.seed ?? 42,
        )
      : null;

  const findings: AuditFinding[] = [
    ...duplicateFindings(sets),
    ...confoundFindings(confound, labelsPresent),
    ...patientFindings(dataset),
    ...balanceFindings(dataset),
    ...labelVariantFindings(dataset.classes),
    ...(unreadable.length > 0
      ? [
          finding('unreadable-image', 'warning', `${unreadable.length} image(s) could not be decoded and are left out of training and of this audit.`, {
            files: unreadable.slice(0, MAX_LISTED_FILES),
            filesTotal: unreadable.length,
          }),
        ]
      : []),
    ...dataset.warnings.map((w) => finding('loader-warning', 'warning', w, {})),
  ].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);

  return {
    data: dataset.root,
    classes: dataset.classes,
    images: dataset.items.length,
    counts: classCounts(dataset),
    findings,
    duplicates: listed,
    duplicateTotals: duplicateTotals(sets, listed.length),
    duplicateGroups: listGroups(sets),
    testFilesWithTrainDuplicate: testFilesWithTrainDuplicate(sets),
    confound: confound && {
      n: confound.n,
      folds: confound.folds,
      accuracy: confound.accuracy,
      accuracyCi: confound.accuracyCi,
      majorityRate: confound.majorityRate,
      chanceRate: confound.chanceRate,
      strongestFeatures: confound.strongestFeatures,
    },
    thresholds: { hashMaxDistance: NEAR_DUPLICATE_MAX_DISTANCE, minCorrelation: NEAR_DUPLICATE_MIN_CORRELATION },
    seconds: (Date.now() - started) / 1000,
    probes: { fromCache: store.hits, decoded: probed.length - store.hits },
  };
}

/**
 * Counts cache hits. The cache only saves time: a record that cannot be written is skipped (the audit's result does
 * not depend on it), and after the first failure no more writes are tried.
 */
function countingStore(inner: ProbeStore | null): ProbeStore & { hits: number } {
  let broken = false;
  const counter = {
    hits: 0,
    async get(sha256: string): Promise<ProbeRecord | null> {
      const record = inner ? await inner.get(sha256) : null;
      if (record) counter.hits++;
      return record;
    },
    async put(record: ProbeRecord): Promise<void> {
      if (!inner || broken) return;
      try {
        await inner.put(record);
      } catch {
        broken = true;
      }
    },
  };
  return counter;
}

/** Test files and unreadable files named in a finding's details; the message and a total give the full count. */
const MAX_LISTED_FILES = 100;

function duplicateFindings(sets: DuplicateSets): AuditFinding[] {
  const out: AuditFinding[] = [];
  const across = countPairs(sets, 'train-test');
  if (across > 0) {
    const tests = testFilesWithTrainDuplicate(sets);
    const pairs = listPairs(sets, 'train-test');
    out.push(
      finding(
        'near-duplicate',
        'critical',
        `${tests.length} test image(s) have an exact or near-duplicate in the training split (${across} pair(s)): ` +
          'test accuracy on them measures memory, not generalisation. Evaluation reports metrics with and without them.',
        { scope: 'train-test', testFiles: tests.slice(0, MAX_LISTED_FILES), testFilesTotal: tests.length, pairs, pairsTotal: across },
      ),
    );
  }
  const within = countPairs(sets, 'within-split');
  if (within > 0) {
    const identical = sets.groups.filter((g) => g.length > 1);
    const largest = Math.max(0, ...identical.map((g) => g.length));
    const identicalNote = identical.length > 0 ? ` Byte-identical files: ${identical.length} set(s) of ${identical.reduce((s, g) => s + g.length, 0)} files, the largest ${largest} copies.` : '';
    out.push(
      finding(
        'near-duplicate',
        'warning',
        `${within} pair(s) of exact or near-duplicate images within a split: they weigh double in training or in the test score.${identicalNote}`,
        { scope: 'within-split', pairs: listPairs(sets, 'within-split'), pairsTotal: within },
      ),
    );
  }
  const conflicts = countPairs(sets, 'label-conflict');
  if (conflicts > 0) {
    out.push(
      finding('label-conflict', 'critical', `${conflicts} duplicate pair(s) carry different labels: one of each pair is mislabelled, or the classes overlap.`, {
        pairs: listPairs(sets, 'label-conflict'),
        pairsTotal: conflicts,
      }),
    );
  }
  return out;
}

function confoundFindings(result: ConfoundProbeResult | null, classes: string[]): AuditFinding[] {
  if (!result) return [];
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const measured =
    `The class can be predicted from acquisition properties alone (image size, format, bit depth, colour storage, intensity, border and text-like marks; ` +
    `no anatomy) with ${pct(result.accuracy)} accuracy (95% CI ${pct(result.accuracyCi.low)}-${pct(result.accuracyCi.high)}, ${result.folds}-fold cross-validated, n=${result.n}) ` +
    `against ${pct(result.majorityRate)} for always guessing the largest class.`;
  const strongest = `Most telling: ${result.strongestFeatures.map((f) => `${f.feature} (${pct(f.accuracy)} alone)`).join(', ')}.`;
  const margin = result.accuracyCi.low - result.majorityRate;
  const severity: AuditSeverity = margin > 0.15 ? 'critical' : margin > 0 ? 'warning' : 'info';
  const advice =
    severity === 'info'
      ? 'No sign that the image source alone gives the class away.'
      : `The classes likely come from different sources or hospitals: a model can score well by recognising the source instead of disease (${classes.join(', ')}). ` +
        'Validate on images from another source (cxr evaluate --map) before trusting any accuracy.';
  return [finding('source-confound', severity, `${measured} ${strongest} ${advice}`, { ...result })];
}

function patientFindings(dataset: DatasetIndex): AuditFinding[] {
  const withIds = dataset.items.filter((i) => i.patientId);
  if (withIds.length === 0) {
    return [
      finding(
        'patient-overlap',
        'info',
        'No patient IDs in this dataset: patient overlap between train and test cannot be checked, and one patient may have images on both sides.',
        { patientIds: false },
      ),
    ];
  }
  const trainPatients = new Set(withIds.filter((i) => i.split === 'train').map((i) => i.patientId));
  const shared = [...new Set(withIds.filter((i) => i.split === 'test' && trainPatients.has(i.patientId)).map((i) => i.patientId!))];
  if (shared.length === 0) {
    return [finding('patient-overlap', 'info', `No patient has images in both train and test (${new Set(withIds.map((i) => i.patientId)).size} patients).`, { patientIds: true, shared: 0 })];
  }
  return [
    finding('patient-overlap', 'critical', `${shared.length} patient(s) have images in both train and test: test results are optimistic. Split by patient.`, {
      patientIds: true,
      shared: shared.length,
    }),
  ];
}

function balanceFindings(dataset: DatasetIndex): AuditFinding[] {
  const counts = classCounts(dataset);
  const out: AuditFinding[] = [];
  for (const split of ['train', 'test', 'unassigned'] as const) {
    const perClass = Object.fromEntries(dataset.classes.map((c) => [c, counts[c][split]]));
    const values = Object.values(perClass);
    const total = values.reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    const max = Math.max(...values);
    const min = Math.min(...values);
    const ratio = min === 0 ? Infinity : max / min;
    const listing = Object.entries(perClass).map(([c, n]) => `${c} ${n}`).join(', ');
    const severity: AuditSeverity = ratio >= 3 ? 'warning' : 'info';
    const message =
      min === 0
        ? `The ${split} split has no images of ${Object.entries(perClass).filter(([, n]) => n === 0).map(([c]) => c).join(', ')} (${listing}).`
        : `Class balance in ${split}: ${listing}` + (severity === 'warning' ? ` (largest ${ratio.toFixed(1)}x the smallest: read balanced accuracy and per-class recall, not accuracy).` : '.');
    out.push(finding('class-balance', min === 0 ? 'warning' : severity, message, { split, counts: perClass }));
  }
  return out;
}

/** Labels that differ only in case or spacing ("covid" beside "Covid") are almost always one class typed twice. */
function labelVariantFindings(classes: string[]): AuditFinding[] {
  const groups = new Map<string, string[]>();
  for (const c of classes) {
    const key = c.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) =>
      finding('label-variant', 'critical', `Labels ${g.map((c) => `'${c}'`).join(' and ')} differ only in case or spacing and are counted as separate classes. Fix the labels.`, {
        labels: g,
      }),
    );
}

function finding(kind: AuditFinding['kind'], severity: AuditSeverity, message: string, details: Record<string, unknown>): AuditFinding {
  return { kind, severity, message, details };
}

/** A one-line, human-readable rendering for logs and the CLI. */
export function formatFinding(f: AuditFinding, root?: string): string {
  const rel = (file: string) => (root ? path.relative(root, file) : file);
  const pairs = (f.details.pairs as AuditDuplicatePair[] | undefined) ?? [];
  const lines = [`[${f.severity}] ${f.kind}: ${f.message}`];
  for (const p of pairs) lines.push(`    ${rel(p.a.file)}  ~  ${rel(p.b.file)}  (${p.exact ? 'identical bytes' : `${p.distance} bits, r=${p.correlation.toFixed(3)}`})`);
  const total = typeof f.details.pairsTotal === 'number' ? f.details.pairsTotal : pairs.length;
  if (total > pairs.length) lines.push(`    ... and ${total - pairs.length} more pair(s)`);
  return lines.join('\n');
}

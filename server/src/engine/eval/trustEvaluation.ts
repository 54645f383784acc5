import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult, EvaluateResult, SubsetMetrics } from '../api';
import { auditDataset } from '../audit/auditDataset';
import { applyTemperature } from '../calibration/temperature';
import { reliability } from '../calibration/reliability';
import type { DatasetItem } from '../data/dataset';
import { readCalibration } from '../ood/trustFiles';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { RunFolder } from '../train/runFolder';
import { readJson } from '../util/atomic';
import { bootstrapMacroF1Auc } from './bootstrap';
import { computeMetrics } from './metrics';

type TrustFields = Pick<EvaluateResult, 'bootstrap' | 'withoutTrainDuplicates' | 'patientLevel' | 'calibration'>;

/**
 * The parts of an evaluation that keep it from flattering: bootstrap intervals, the metrics without test images that
 * have a copy in train, patient-level metrics, calibration; and the dataset audit's warnings as caveats.
 */
export async function trustEvaluation(
  runDir: string,
  trainedOn: string,
  data: string,
  items: DatasetItem[],
  yTrue: number[],
  probs: number[][],
  classes: string[],
  paths: PathPolicy = UNRESTRICTED,
): Promise<{ fields: TrustFields; caveats: string[] }> {
  const audit = sameData(trainedOn, data) ? await runAudit(runDir, data, paths) : null;
  const caveats: string[] = [];
  let withoutTrainDuplicates: TrustFields['withoutTrainDuplicates'] = null;
  if (audit) {
    const dup = new Set(audit.testFilesWithTrainDuplicate);
    const keep = items.map((item, i) => (dup.has(item.path) ? -1 : i)).filter((i) => i >= 0);
    const excluded = items.filter((item) => dup.has(item.path)).map((item) => item.path);
    const metrics = keep.length > 0 && excluded.length > 0 ? subsetMetrics(keep.map((i) => yTrue[i]), keep.map((i) => probs[i]), classes) : null;
    withoutTrainDuplicates = { excluded, metrics };
    if (excluded.length > 0 && metrics) {
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      caveats.push(
        `${excluded.length} of these ${items.length} images have an exact or near-duplicate in the training split; without them accuracy is ` +
          `${pct(metrics.accuracy)} (95% CI ${pct(metrics.accuracy_ci.low)}-${pct(metrics.accuracy_ci.high)}, n=${metrics.n}).`,
      );
    }
    for (const f of audit.findings) if (f.severity !== 'info' && f.kind !== 'near-duplicate') caveats.push(`Dataset audit (${f.severity}): ${f.message}`);
  }
  const calibrationFile = readCalibration(runDir, paths);
  const raw = reliability(probs, yTrue);
  return {
    fields: {
      bootstrap: bootstrapMacroF1Auc(yTrue, probs, classes),
      withoutTrainDuplicates,
      patientLevel: patientLevel(items, yTrue, probs, classes),
      calibration: {
        temperature: calibrationFile?.temperature ?? null,
        raw,
        calibrated: calibrationFile ? reliability(probs.map((p) => applyTemperature(p, calibrationFile.temperature)), yTrue) : null,
      },
    },
    caveats,
  };
}

export function subsetMetrics(yTrue: number[], probs: number[][], classes: string[]): SubsetMetrics {
  const m = computeMetrics(yTrue, probs, classes);
  return { n: m.n, accuracy: m.accuracy, accuracy_ci: m.accuracy_ci, balanced_accuracy: m.balanced_accuracy, macro_f1: m.macro_avg.f1, macro_auc: m.macro_auc };
}

/** Mean probabilities over each patient's images, the patient's label the most frequent of theirs. */
function patientLevel(items: DatasetItem[], yTrue: number[], probs: number[][], classes: string[]): (SubsetMetrics & { patients: number }) | null {
  if (!items.some((i) => i.patientId)) return null;
  const groups = new Map<string, number[]>();
  items.forEach((item, i) => {
    const key = item.patientId ? `p:${item.patientId}` : `f:${item.path}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const y: number[] = [];
  const p: number[][] = [];
  for (const members of groups.values()) {
    const counts = new Map<number, number>();
    for (const i of members) counts.set(yTrue[i], (counts.get(yTrue[i]) ?? 0) + 1);
    y.push([...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0]);
    p.push(classes.map((_, c) => members.reduce((s, i) => s + probs[i][c], 0) / members.length));
  }
  return { ...subsetMetrics(y, p, classes), patients: groups.size };
}

function sameData(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

async function runAudit(runDir: string, data: string, paths: PathPolicy): Promise<AuditResult> {
  const file = new RunFolder(runDir, paths).auditFile;
  return fs.existsSync(file) ? readJson<AuditResult>(file) : auditDataset({ data }, { paths });
}

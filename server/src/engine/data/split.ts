import { CxrError } from '../errors';
import { Rng } from '../util/rng';
import type { DatasetItem } from './dataset';
import { compareCodePoints } from './sortOrder';

export interface TrainValSplit {
  train: DatasetItem[];
  val: DatasetItem[];
  /** True when any item carried a patient ID: whole patients then go to one side. */
  groupedByPatient: boolean;
}

interface Group {
  key: string;
  label: string;
  items: DatasetItem[];
}

/**
 * Carves a validation set out of `items`, stratified by label and seeded. With patient IDs, all images of a patient
 * land on the same side (items without an ID are their own group) and each patient counts towards its majority label.
 * Each class with at least two images (two groups when grouped) gets at least one validation image and keeps at
 * least one for training. The result depends only on the set of items and the seed, not on their order.
 */
export function splitTrainVal(items: DatasetItem[], opts: { valFraction: number; seed: number }): TrainValSplit {
  const { valFraction, seed } = opts;
  if (!Number.isFinite(valFraction) || valFraction < 0 || valFraction >= 1) {
    throw new CxrError('INVALID_ARGUMENT', `valFraction must be in [0, 1), got ${valFraction}.`);
  }
  const sorted = [...items].sort((a, b) => compareCodePoints(a.path, b.path));
  const groupedByPatient = sorted.some((i) => i.patientId !== null && i.patientId !== '');
  if (valFraction === 0) return { train: sorted, val: [], groupedByPatient };

  const strata = new Map<string, Group[]>();
  for (const group of groupItems(sorted)) {
    const list = strata.get(group.label) ?? [];
    list.push(group);
    strata.set(group.label, list);
  }

  const rng = new Rng(seed);
  const valSet = new Set<DatasetItem>();
  for (const label of [...strata.keys()].sort(compareCodePoints)) {
    const groups = rng.shuffle(strata.get(label)!.sort((a, b) => compareCodePoints(a.key, b.key)));
    const total = groups.reduce((n, g) => n + g.items.length, 0);
    const target = Math.max(1, Math.round(total * valFraction));
    let taken = 0;
    // The last group always stays in train, so a class never disappears from training.
    for (let g = 0; g < groups.length - 1 && taken < target; g++) {
      for (const item of groups[g].items) valSet.add(item);
      taken += groups[g].items.length;
    }
  }
  return {
    train: sorted.filter((i) => !valSet.has(i)),
    val: sorted.filter((i) => valSet.has(i)),
    groupedByPatient,
  };
}

function groupItems(sorted: DatasetItem[]): Group[] {
  const byKey = new Map<string, DatasetItem[]>();
  for (const item of sorted) {
    const key = item.patientId ? `patient:${item.patientId}` : `file:${item.path}`;
    const list = byKey.get(key) ?? [];
    list.push(item);
    byKey.set(key, list);
  }
  return [...byKey].map(([key, members]) => ({ key, label: majorityLabel(members), items: members }));
}

/** Most frequent label; ties go to the label that sorts first, so the choice is deterministic. */
function majorityLabel(items: DatasetItem[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i.label, (counts.get(i.label) ?? 0) + 1);
  let best = '';
  let bestCount = -1;
  for (const [label, n] of counts) {
    if (n > bestCount || (n === bestCount && compareCodePoints(label, best) < 0)) {
      best = label;
      bestCount = n;
    }
  }
  return best;
}

import type { AuditDuplicateGroup, AuditDuplicatePair, AuditDuplicateTotals } from '../api';
import { duplicatePairIndices, type ProbedItem } from './duplicates';

/** At most this many pairs are listed per finding (and in the result's list); the totals count every pair. */
export const MAX_LISTED_PAIRS = 100;
/** Pairs listed per set of identical files (or per near-duplicate pair of sets): the rest show in the set's count. */
export const MAX_PAIRS_PER_SET = 3;
/** Sets of byte-identical files listed (largest first), and files named per set. */
export const MAX_LISTED_GROUPS = 50;
export const MAX_FILES_PER_GROUP = 10;

export type PairKind = 'train-test' | 'within-split' | 'label-conflict';

/**
 * Duplicates as sets, not pairs: n identical files are one group (n(n-1)/2 pairs), and two groups whose contents are
 * near-duplicates are one link (|A| x |B| pairs). Pairs are counted from the groups' split and label tallies and only
 * the few listed are ever built, so 20,000 replicas of 251 images cost 251 groups, not 800,000 pairs.
 */
export interface DuplicateSets {
  /** Every distinct content (singletons included), in order of first appearance; members in dataset order. */
  groups: ProbedItem[][];
  /** Near-duplicate pairs of groups (a < b): their first members, and so all members, are within the thresholds. */
  links: { a: number; b: number; distance: number; correlation: number }[];
}

export function findDuplicateSets(items: readonly ProbedItem[]): DuplicateSets {
  const index = new Map<string, number>();
  const groups: ProbedItem[][] = [];
  for (const item of items) {
    let g = index.get(item.probe.sha256);
    if (g === undefined) {
      g = groups.length;
      index.set(item.probe.sha256, g);
      groups.push([]);
    }
    groups[g].push(item);
  }
  // Distinct contents only: identical bytes are already grouped, so every pair found here is a near-duplicate.
  const links = duplicatePairIndices(groups.map((g) => g[0])).map(({ i, j, distance, correlation }) => ({ a: i, b: j, distance, correlation }));
  return { groups, links };
}

export function isTrainTestSplits(x: string, y: string): boolean {
  return (x === 'train' && y === 'test') || (x === 'test' && y === 'train');
}

/** Members split into parts by split (for the split kinds) or by label, in order of first appearance. */
function partition(members: readonly ProbedItem[], kind: PairKind): { key: string; items: ProbedItem[] }[] {
  const parts = new Map<string, ProbedItem[]>();
  for (const m of members) {
    const key = kind === 'label-conflict' ? m.label : m.split;
    const list = parts.get(key);
    if (list) list.push(m);
    else parts.set(key, [m]);
  }
  return [...parts.entries()].map(([key, items]) => ({ key, items }));
}

function keysMatch(kind: PairKind, x: string, y: string): boolean {
  if (kind === 'label-conflict') return x !== y;
  return kind === 'train-test' ? isTrainTestSplits(x, y) : !isTrainTestSplits(x, y);
}

/** Blocks of pairs all of one kind: [xs, null] = every pair within xs; [xs, ys] = every x with every y. */
type Block = [ProbedItem[], ProbedItem[] | null];

function groupBlocks(members: readonly ProbedItem[], kind: PairKind): Block[] {
  const parts = partition(members, kind);
  const blocks: Block[] = [];
  for (let p = 0; p < parts.length; p++) {
    if (keysMatch(kind, parts[p].key, parts[p].key)) blocks.push([parts[p].items, null]);
    for (let q = p + 1; q < parts.length; q++) if (keysMatch(kind, parts[p].key, parts[q].key)) blocks.push([parts[p].items, parts[q].items]);
  }
  return blocks;
}

function linkBlocks(a: readonly ProbedItem[], b: readonly ProbedItem[], kind: PairKind): Block[] {
  const blocks: Block[] = [];
  for (const pa of partition(a, kind)) for (const pb of partition(b, kind)) if (keysMatch(kind, pa.key, pb.key)) blocks.push([pa.items, pb.items]);
  return blocks;
}

function blockSize([xs, ys]: Block): number {
  return ys ? xs.length * ys.length : (xs.length * (xs.length - 1)) / 2;
}

function* blockPairs([xs, ys]: Block): Generator<[ProbedItem, ProbedItem]> {
  if (ys) {
    for (const x of xs) for (const y of ys) yield [x, y];
  } else {
    for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) yield [xs[i], xs[j]];
  }
}

/** Every group of two or more files and every link, each with its blocks of pairs of `kind`. */
function* units(sets: DuplicateSets, kind: PairKind): Generator<{ blocks: Block[]; exact: boolean; distance: number; correlation: number }> {
  for (const g of sets.groups) if (g.length > 1) yield { blocks: groupBlocks(g, kind), exact: true, distance: 0, correlation: 1 };
  for (const l of sets.links) yield { blocks: linkBlocks(sets.groups[l.a], sets.groups[l.b], kind), exact: false, distance: l.distance, correlation: l.correlation };
}

export function countPairs(sets: DuplicateSets, kind: PairKind): number {
  let n = 0;
  for (const u of units(sets, kind)) for (const b of u.blocks) n += blockSize(b);
  return n;
}

/** The first `limit` pairs of `kind`, at most MAX_PAIRS_PER_SET from each group or link, so one large set does not fill the list. */
export function listPairs(sets: DuplicateSets, kind: PairKind, limit = MAX_LISTED_PAIRS): AuditDuplicatePair[] {
  const out: AuditDuplicatePair[] = [];
  for (const u of units(sets, kind)) {
    let fromUnit = 0;
    for (const block of u.blocks) {
      for (const [a, b] of blockPairs(block)) {
        if (out.length >= limit) return out;
        if (fromUnit >= MAX_PAIRS_PER_SET) break;
        out.push({ a: side(a), b: side(b), exact: u.exact, distance: u.distance, correlation: Number(u.correlation.toFixed(4)) });
        fromUnit++;
      }
      if (fromUnit >= MAX_PAIRS_PER_SET) break;
    }
  }
  return out;
}

function side(s: ProbedItem): AuditDuplicatePair['a'] {
  return { file: s.probe.file, label: s.label, split: s.split };
}

export function duplicateTotals(sets: DuplicateSets, listedPairs: number): AuditDuplicateTotals {
  const identical = sets.groups.filter((g) => g.length > 1);
  const exactPairs = identical.reduce((s, g) => s + (g.length * (g.length - 1)) / 2, 0);
  const nearPairs = sets.links.reduce((s, l) => s + sets.groups[l.a].length * sets.groups[l.b].length, 0);
  return {
    pairs: exactPairs + nearPairs,
    exactPairs,
    nearPairs,
    trainTestPairs: countPairs(sets, 'train-test'),
    withinSplitPairs: countPairs(sets, 'within-split'),
    labelConflictPairs: countPairs(sets, 'label-conflict'),
    listedPairs,
    identicalGroups: identical.length,
    filesInIdenticalGroups: identical.reduce((s, g) => s + g.length, 0),
    nearDuplicateLinks: sets.links.length,
  };
}

/** The largest sets of byte-identical files (largest first), each with its size and its first files. */
export function listGroups(sets: DuplicateSets, limit = MAX_LISTED_GROUPS): AuditDuplicateGroup[] {
  return sets.groups
    .filter((g) => g.length > 1)
    .sort((x, y) => y.length - x.length)
    .slice(0, limit)
    .map((g) => {
      const splits: Record<string, number> = {};
      for (const m of g) splits[m.split] = (splits[m.split] ?? 0) + 1;
      return {
        count: g.length,
        files: g.slice(0, MAX_FILES_PER_GROUP).map(side),
        more: Math.max(0, g.length - MAX_FILES_PER_GROUP),
        labels: [...new Set(g.map((m) => m.label))],
        splits,
      };
    });
}

/** Test files with an identical or near-duplicate file in the train split (every one: evaluation leaves them out). */
export function testFilesWithTrainDuplicate(sets: DuplicateSets): string[] {
  const hasTrain = sets.groups.map((g) => g.some((m) => m.split === 'train'));
  const trainPartner = [...hasTrain];
  for (const l of sets.links) {
    if (hasTrain[l.b]) trainPartner[l.a] = true;
    if (hasTrain[l.a]) trainPartner[l.b] = true;
  }
  const files = new Set<string>();
  sets.groups.forEach((g, k) => {
    if (trainPartner[k]) for (const m of g) if (m.split === 'test') files.add(m.probe.file);
  });
  return [...files].sort();
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetImage, DatasetSplitName, DatasetSummary } from '../../../common/src/protocol';
import { classCounts, loadDataset, type DatasetIndex, type DatasetItem } from '../engine/data/dataset';
import type { PathGuard } from './pathGuard';

/** How deep below each root to look, and how many folders to visit at most: a scan must stay cheap. */
const MAX_DEPTH = 2;
const MAX_FOLDERS = 400;
const SKIPPED = new Set(['node_modules', 'runs', 'out', 'dist']);

/**
 * Finds datasets under the given roots: folders holding train/ or test/, and CSV manifests. Candidates that fail to
 * load (a CSV that is not a manifest, an empty split) are skipped; so are symlinks leading outside the allowed roots.
 * A dataset reached by several paths (links) is listed once.
 */
export async function scanDatasets(roots: readonly string[], guard: PathGuard, log: (m: string) => void): Promise<DatasetSummary[]> {
  const candidates = new Set<string>();
  let visited = 0;
  const visit = (dir: string, depth: number): void => {
    if (visited++ >= MAX_FOLDERS || !guard.contains(dir)) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    if (names.has('train') || names.has('test')) {
      candidates.add(dir);
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.name.startsWith('.')) continue;
      if (e.isFile() && e.name.toLowerCase().endsWith('.csv') && guard.contains(full)) candidates.add(full);
      // A dataset's own train/ and test/ folders hold classes, not datasets.
      else if (depth < MAX_DEPTH && isFolder(full) && !SKIPPED.has(e.name) && !candidates.has(dir)) visit(full, depth + 1);
    }
  };
  for (const root of roots) visit(root, 0);

  const loaded: DatasetIndex[] = [];
  for (const candidate of await uniqueByRealPath([...candidates])) {
    try {
      loaded.push(await loadDataset(candidate, guard));
    } catch (e) {
      log(`Not a dataset: ${candidate} (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  const folders = loaded.filter((d) => d.source === 'folders');
  const found: DatasetSummary[] = [];
  for (const index of loaded) {
    const described = index.source === 'csv' ? folders.find((f) => describesFolderDataset(index, f)) : undefined;
    if (described) log(`${index.root} lists the images of ${described.root} with the same labels and splits: not a second dataset`);
    else found.push(summarise(index));
  }
  return found.filter((d) => d.total > 0).sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * One path per dataset: a folder reached both directly and through a link (a workspace link into a data root, or two
 * roots leading to the same place) is one dataset. A candidate that is its own real path is kept, else the first seen.
 */
async function uniqueByRealPath(paths: readonly string[]): Promise<string[]> {
  const byRealPath = new Map<string, string>();
  for (const p of paths) {
    const real = await fs.promises.realpath(p).catch(() => p);
    const kept = byRealPath.get(real);
    if (kept === undefined || (kept !== real && p === real)) byRealPath.set(real, p);
  }
  return [...byRealPath.values()];
}

/**
 * A CSV that lists exactly the images of a folder dataset, with the labels and splits its folders already give and no
 * patient IDs (a checksum manifest, a labels file), adds nothing: it describes that dataset rather than being another.
 */
export function describesFolderDataset(csv: DatasetIndex, folder: DatasetIndex): boolean {
  if (csv.items.length !== folder.items.length || csv.items.some((i) => i.patientId !== null)) return false;
  const key = (i: DatasetItem): string => `${i.path}\0${i.label}\0${i.split ?? ''}`;
  const folderKeys = new Set(folder.items.map(key));
  return csv.items.every((i) => folderKeys.has(key(i)));
}

/** The images of one dataset (folders or CSV), optionally of one class and split, sorted by path. */
export async function listDatasetImages(
  dataset: string,
  filter: { className?: string; split?: DatasetSplitName },
  guard: PathGuard,
): Promise<DatasetImage[]> {
  const index = await loadDataset(dataset, guard);
  return index.items
    .filter((i) => filter.className === undefined || i.label === filter.className)
    .filter((i) => filter.split === undefined || (i.split ?? 'unassigned') === filter.split)
    // A CSV may name files anywhere; list only those the backend would read.
    .filter((i) => guard.contains(i.path))
    .map((i) => ({ file: i.path, label: i.label, split: i.split ?? 'unassigned' }));
}

function summarise(index: DatasetIndex): DatasetSummary {
  const counts: DatasetSummary['counts'] = {};
  let total = 0;
  for (const [cls, perSplit] of Object.entries(classCounts(index))) {
    for (const split of ['train', 'test', 'unassigned'] as DatasetSplitName[]) {
      const n = perSplit[split];
      if (n === 0) continue;
      (counts[split] ??= {})[cls] = n;
      total += n;
    }
  }
  return { path: index.root, source: index.source, classes: index.classes, counts, total };
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

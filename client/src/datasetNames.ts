import * as path from 'node:path';
import type { DatasetSummary } from '../../common/src/protocol';

/** A dataset's short name: its folder's name, or "<folder>/<file>.csv" for a CSV manifest. */
export function datasetLabel(d: Pick<DatasetSummary, 'path' | 'source'>): string {
  return d.source === 'csv' ? `${path.basename(path.dirname(d.path))}/${path.basename(d.path)}` : path.basename(d.path);
}

/**
 * Where each dataset whose short name another one shares lies, as the fewest trailing parent folders that tell them
 * apart ("workspace/data" and "shared/data" for two copies of ci-tiny); datasets with a name of their own are absent.
 */
export function datasetPlaces(datasets: readonly Pick<DatasetSummary, 'path' | 'source'>[]): Map<string, string> {
  const byLabel = new Map<string, string[]>();
  for (const d of datasets) byLabel.set(datasetLabel(d), [...(byLabel.get(datasetLabel(d)) ?? []), d.path]);
  const places = new Map<string, string>();
  for (const paths of byLabel.values()) {
    if (paths.length < 2) continue;
    const parents = paths.map((p) => path.dirname(p).split(/[\\/]+/).filter(Boolean));
    const deepest = Math.max(...parents.map((p) => p.length));
    for (let depth = 1; depth <= deepest; depth++) {
      const tails = parents.map((p) => p.slice(-depth).join('/'));
      if (new Set(tails).size === tails.length || depth === deepest) {
        paths.forEach((p, i) => places.set(p, parents[i].length <= depth ? path.dirname(p) : tails[i]));
        break;
      }
    }
  }
  return places;
}

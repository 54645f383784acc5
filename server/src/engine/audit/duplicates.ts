import type { ImageProbe } from './imageProbe';
import { hammingDistance } from './perceptualHash';

/**
 * Two images are near-duplicates when their perceptual hashes are at most NEAR_DUPLICATE_MAX_DISTANCE bits apart AND
 * their 32 x 32 grey thumbnails correlate at NEAR_DUPLICATE_MIN_CORRELATION or more. Measured with
 * scripts/audit-hash-threshold.ts (BENCHMARKS.md): 54 resized/re-encoded/grey copies of one image are at most 4 bits
 * apart and correlate >= 0.998; among the 50,086 pairs of distinct files of covid19-dataset, hashes alone are too
 * coarse for X-rays (276 pairs at 8-10 bits) but none of the pairs 8-14 bits apart correlates above 0.944.
 */
export const NEAR_DUPLICATE_MAX_DISTANCE = 8;
export const NEAR_DUPLICATE_MIN_CORRELATION = 0.96;

export interface ProbedItem {
  probe: ImageProbe;
  label: string;
  /** 'train' | 'test' | 'unassigned' */
  split: string;
}

export interface DuplicatePair {
  a: ProbedItem;
  b: ProbedItem;
  exact: boolean;
  distance: number;
  correlation: number;
}

export function findDuplicatePairs(items: readonly ProbedItem[]): DuplicatePair[] {
  const thumbs = items.map((i) => standardised(i.probe.thumb));
  const pairs: DuplicatePair[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const exact = items[i].probe.sha256 === items[j].probe.sha256;
      const distance = hammingDistance(items[i].probe.hash, items[j].probe.hash);
      if (!exact && distance > NEAR_DUPLICATE_MAX_DISTANCE) continue;
      const correlation = dot(thumbs[i], thumbs[j]);
      if (exact || correlation >= NEAR_DUPLICATE_MIN_CORRELATION) pairs.push({ a: items[i], b: items[j], exact, distance, correlation });
    }
  }
  return pairs;
}

/** Pearson correlation of two probes' 32 x 32 grey thumbnails. */
export function thumbnailCorrelation(a: ImageProbe, b: ImageProbe): number {
  return dot(standardised(a.thumb), standardised(b.thumb));
}

/** Zero mean, unit norm: the dot product of two is their Pearson correlation. */
function standardised(v: Float32Array): Float32Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let norm = 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    out[i] = v[i] - mean;
    norm += out[i] * out[i];
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

import type { ImageProbe } from './imageProbe';

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
  return duplicatePairIndices(items).map(({ i, j, exact, distance, correlation }) => ({ a: items[i], b: items[j], exact, distance, correlation }));
}

/** The pairs (i < j, in the order of a full scan) that are byte-identical or near-duplicates. */
export function duplicatePairIndices(items: readonly ProbedItem[]): { i: number; j: number; exact: boolean; distance: number; correlation: number }[] {
  const thumbs = items.map((i) => standardised(i.probe.thumb));
  const hashes = items.map((i) => i.probe.hash);
  const partners = candidatePartners(hashes, NEAR_DUPLICATE_MAX_DISTANCE);
  const packed = packBits(hashes);
  const words = packed.length / Math.max(1, items.length);
  const pairs: { i: number; j: number; exact: boolean; distance: number; correlation: number }[] = [];
  for (let i = 0; i < items.length; i++) {
    for (const j of partners(i)) {
      let distance = 0;
      for (let w = 0; w < words; w++) distance += popcount32(packed[i * words + w] ^ packed[j * words + w]);
      const exact = items[i].probe.sha256 === items[j].probe.sha256;
      if (!exact && distance > NEAR_DUPLICATE_MAX_DISTANCE) continue;
      const correlation = dot(thumbs[i], thumbs[j]);
      if (exact || correlation >= NEAR_DUPLICATE_MIN_CORRELATION) pairs.push({ i, j, exact, distance, correlation });
    }
  }
  return pairs;
}

/**
 * Multi-index hashing: the hash bits are cut into maxDistance + 1 bands, and two hashes at most maxDistance bits apart
 * agree exactly on at least one band (pigeonhole). So only images sharing a band value are compared, not all n^2/2
 * pairs (200 million at 20,000 images). Identical files have identical hashes, so exact duplicates are among them.
 * Returns, for each i, its candidates j > i in ascending order: the pairs come out in the order of the full scan.
 */
export function candidatePartners(hashes: readonly Uint8Array[], maxDistance: number): (i: number) => number[] {
  const n = hashes.length;
  if (n === 0) return () => [];
  const bits = hashes[0].length;
  const bandCount = Math.min(maxDistance + 1, bits);
  const bounds: number[] = [];
  for (let b = 0; b <= bandCount; b++) bounds.push(Math.round((b * bits) / bandCount));
  const buckets = Array.from({ length: bandCount }, () => new Map<number, number[]>());
  const keys = hashes.map((h) =>
    buckets.map((_, b) => {
      let key = 0;
      for (let k = bounds[b]; k < bounds[b + 1]; k++) key = key * 2 + h[k];
      return key;
    }),
  );
  keys.forEach((ks, i) =>
    ks.forEach((key, b) => {
      const bucket = buckets[b].get(key);
      if (bucket) bucket.push(i);
      else buckets[b].set(key, [i]);
    }),
  );
  // seenBy[j] === i marks j as already gathered for i: no set of pairs is ever built.
  const seenBy = new Int32Array(n).fill(-1);
  return (i) => {
    const found: number[] = [];
    keys[i].forEach((key, b) => {
      for (const j of buckets[b].get(key)!) {
        if (j > i && seenBy[j] !== i) {
          seenBy[j] = i;
          found.push(j);
        }
      }
    });
    return found.sort((x, y) => x - y);
  };
}

/** Each hash (0/1 per bit) as 32-bit words, so a distance is a few XORs and population counts. */
function packBits(hashes: readonly Uint8Array[]): Uint32Array {
  const words = hashes.length ? Math.ceil(hashes[0].length / 32) : 0;
  const out = new Uint32Array(hashes.length * words);
  hashes.forEach((h, i) => h.forEach((bit, k) => (out[i * words + (k >> 5)] |= bit << (k & 31))));
  return out;
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
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

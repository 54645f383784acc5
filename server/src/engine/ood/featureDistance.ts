/**
 * "Unlike the training images": the mean cosine distance of an image's pooled backbone features to its K nearest
 * training images. Fitted after training on the training split's features. The threshold is the 99th percentile of
 * the in-distribution reference distances: the validation images', plus the training images' leave-one-out
 * distances (with a frozen base those features never saw training, so they are as fair as validation ones; the
 * validation split alone is often a handful of images), at most MAX_THRESHOLD_SAMPLES of each. The test split then measures the false-alarm rate.
 */
export const NEIGHBOURS = 5;

export interface FeatureDistanceModel {
  dims: number;
  /** L2-normalised training features, row-major, n x dims. */
  train: Float32Array;
  n: number;
  k: number;
  threshold: number;
  /** The reference distances the threshold came from (validation, then training leave-one-out; sorted). */
  valDistances: number[];
}

/**
 * At most this many training images form the reference set (evenly spaced through the training list when there are
 * more): one verdict compares an image with each of them, so a run trained on 20,000 images answers as fast as one
 * trained on 2,000, and the fit's leave-one-out pass stays linear.
 */
export const MAX_REFERENCE_IMAGES = 2048;
/** At most this many leave-one-out and validation distances each go into the threshold's percentile. */
export const MAX_THRESHOLD_SAMPLES = 1024;

export function fitFeatureDistance(trainFeatures: Float32Array[], valFeatures: Float32Array[]): FeatureDistanceModel {
  const dims = trainFeatures[0].length;
  const kept = evenlySpaced(trainFeatures.length, MAX_REFERENCE_IMAGES).map((i) => trainFeatures[i]);
  const n = kept.length;
  const train = new Float32Array(n * dims);
  kept.forEach((f, i) => train.set(normalised(f), i * dims));
  const k = Math.min(NEIGHBOURS, n);
  const partial = { dims, train, n, k, threshold: 1, valDistances: [] as number[] };
  const valDistances = evenlySpaced(valFeatures.length, MAX_THRESHOLD_SAMPLES).map((i) => knnDistance(partial, valFeatures[i]));
  const reference = [...valDistances, ...leaveOneOut(partial, evenlySpaced(n, MAX_THRESHOLD_SAMPLES))].sort((a, b) => a - b);
  const threshold = Math.max(reference[Math.min(reference.length - 1, Math.floor(0.99 * reference.length))] ?? 0, 1e-6);
  return { ...partial, threshold, valDistances: reference };
}

/** Mean cosine distance (1 - cosine similarity) to the k nearest training features. */
export function knnDistance(model: Pick<FeatureDistanceModel, 'dims' | 'train' | 'n' | 'k'>, feature: Float32Array, skip = -1): number {
  const q = normalised(feature);
  const { n, dims, train } = model;
  const dots = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (i === skip) continue;
    const off = i * dims;
    let dot = 0;
    for (let j = 0; j < dims; j++) dot += q[j] * train[off + j];
    dots[i] = dot;
  }
  return meanOfNearest(dots, Math.min(model.k, skip >= 0 && skip < n ? n - 1 : n), skip);
}

/**
 * knnDistance of each training row in `which` to the others. The rows are unit vectors already, and each pair's dot
 * product is taken once: the fit's cost is half the pairs of a row-by-row knnDistance (0.23 s of a 251-image
 * training's 0.27 s fit went there).
 */
function leaveOneOut(model: Pick<FeatureDistanceModel, 'dims' | 'train' | 'n' | 'k'>, which: number[]): number[] {
  const { n, dims, train } = model;
  const rowOf = new Int32Array(n).fill(-1);
  which.forEach((i, r) => (rowOf[i] = r));
  const dots = new Float64Array(which.length * n);
  for (let r = 0; r < which.length; r++) {
    const i = which[r];
    const io = i * dims;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const rj = rowOf[j];
      if (rj >= 0 && rj < r) {
        dots[r * n + j] = dots[rj * n + i];
        continue;
      }
      const jo = j * dims;
      let dot = 0;
      for (let t = 0; t < dims; t++) dot += train[io + t] * train[jo + t];
      dots[r * n + j] = dot;
    }
  }
  const k = Math.min(model.k, n - 1);
  return which.map((i, r) => meanOfNearest(dots.subarray(r * n, (r + 1) * n), k, i));
}

/** Mean of the k smallest cosine distances (1 - dot) among `dots`, leaving out index `skip` (k is 5: insertion beats sorting all n). */
function meanOfNearest(dots: Float64Array, k: number, skip: number): number {
  const nearest = new Float64Array(k).fill(Infinity);
  for (let j = 0; j < dots.length; j++) {
    if (j === skip) continue;
    const d = 1 - dots[j];
    if (k === 0 || d >= nearest[k - 1]) continue;
    let at = k - 1;
    while (at > 0 && nearest[at - 1] > d) {
      nearest[at] = nearest[at - 1];
      at--;
    }
    nearest[at] = d;
  }
  let s = 0;
  for (let i = 0; i < k; i++) s += nearest[i];
  return k > 0 ? s / k : 1;
}

/** `count` indices spread evenly over 0..n-1 (all of them when n <= count). */
export function evenlySpaced(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
}

function normalised(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

/**
 * "Unlike the training images": the mean cosine distance of an image's pooled backbone features to its K nearest
 * training images. Fitted after training on the training split's features. The threshold is the 99th percentile of
 * the in-distribution reference distances: every validation image's, plus every training image's leave-one-out
 * distance (with a frozen base those features never saw training, so they are as fair as validation ones; the
 * validation split alone is often a handful of images). The test split then measures the false-alarm rate.
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

export function fitFeatureDistance(trainFeatures: Float32Array[], valFeatures: Float32Array[]): FeatureDistanceModel {
  const dims = trainFeatures[0].length;
  const n = trainFeatures.length;
  const train = new Float32Array(n * dims);
  trainFeatures.forEach((f, i) => train.set(normalised(f), i * dims));
  const k = Math.min(NEIGHBOURS, n);
  const partial = { dims, train, n, k, threshold: 1, valDistances: [] as number[] };
  const valDistances = valFeatures.map((f) => knnDistance(partial, f));
  const reference = [...valDistances, ...leaveOneOut(partial)].sort((a, b) => a - b);
  const threshold = Math.max(reference[Math.min(reference.length - 1, Math.floor(0.99 * reference.length))] ?? 0, 1e-6);
  return { ...partial, threshold, valDistances: reference };
}

/** Mean cosine distance (1 - cosine similarity) to the k nearest training features. */
export function knnDistance(model: Pick<FeatureDistanceModel, 'dims' | 'train' | 'n' | 'k'>, feature: Float32Array, skip = -1): number {
  const q = normalised(feature);
  const distances: number[] = [];
  for (let i = 0; i < model.n; i++) {
    if (i === skip) continue;
    let dot = 0;
    const off = i * model.dims;
    for (let j = 0; j < model.dims; j++) dot += q[j] * model.train[off + j];
    distances.push(1 - dot);
  }
  distances.sort((a, b) => a - b);
  const k = Math.min(model.k, distances.length);
  let s = 0;
  for (let i = 0; i < k; i++) s += distances[i];
  return k > 0 ? s / k : 1;
}

function leaveOneOut(model: Pick<FeatureDistanceModel, 'dims' | 'train' | 'n' | 'k'>): number[] {
  return Array.from({ length: model.n }, (_, i) => knnDistance(model, model.train.subarray(i * model.dims, (i + 1) * model.dims), i));
}

function normalised(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

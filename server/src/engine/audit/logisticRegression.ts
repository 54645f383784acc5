import { Rng } from '../util/rng';

/**
 * Multinomial logistic regression on standardised features, L2-regularised, fitted by full-batch gradient descent:
 * small, deterministic and plenty for a few hundred images and a few dozen features.
 */
export interface LogisticModel {
  mean: Float64Array;
  scale: Float64Array;
  /** classes x (features + 1), bias last. */
  weights: Float64Array[];
}

const ITERATIONS = 400;
const LEARNING_RATE = 0.5;
const L2 = 0.01;

export function fitLogistic(x: number[][], y: number[], classes: number): LogisticModel {
  const d = x[0].length;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (const row of x) for (let j = 0; j < d; j++) mean[j] += row[j] / x.length;
  for (const row of x) for (let j = 0; j < d; j++) scale[j] += (row[j] - mean[j]) ** 2 / x.length;
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]) || 1;
  // Rows, weights and gradients in flat arrays (one row after another; per class its d weights, then the bias): the
  // same sums in the same order as one array per row, without the indirection (the audit fits this 5 times per run).
  const n = x.length;
  const z = new Float64Array(n * d);
  x.forEach((row, i) => z.set(standardise(row, mean, scale), i * d));
  const stride = d + 1;
  const w = new Float64Array(classes * stride);
  const grad = new Float64Array(classes * stride);
  const p = new Float64Array(classes);
  for (let it = 0; it < ITERATIONS; it++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const zo = i * d;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const wo = c * stride;
        let s = w[wo + d];
        for (let j = 0; j < d; j++) s += w[wo + j] * z[zo + j];
        p[c] = s;
        if (s > max) max = s;
      }
      let total = 0;
      for (let c = 0; c < classes; c++) {
        p[c] = Math.exp(p[c] - max);
        total += p[c];
      }
      for (let c = 0; c < classes; c++) {
        const err = p[c] / total - (y[i] === c ? 1 : 0);
        const go = c * stride;
        for (let j = 0; j < d; j++) grad[go + j] += err * z[zo + j];
        grad[go + d] += err;
      }
    }
    for (let c = 0; c < classes; c++) {
      const o = c * stride;
      for (let j = 0; j <= d; j++) {
        const reg = j < d ? L2 * w[o + j] : 0;
        w[o + j] -= LEARNING_RATE * (grad[o + j] / n + reg);
      }
    }
  }
  const weights = Array.from({ length: classes }, (_, c) => w.slice(c * stride, (c + 1) * stride));
  return { mean, scale, weights };
}

export function predictLogistic(model: LogisticModel, row: number[]): number {
  const z = standardise(row, model.mean, model.scale);
  let best = 0;
  let bestScore = -Infinity;
  model.weights.forEach((w, c) => {
    const s = score(w, z);
    if (s > bestScore) {
      bestScore = s;
      best = c;
    }
  });
  return best;
}

/** Fits on (x, y) and returns the predictor. */
export type Classifier = (x: number[][], y: number[], classes: number) => (row: number[]) => number;

export const LOGISTIC: Classifier = (x, y, classes) => {
  const model = fitLogistic(x, y, classes);
  return (row) => predictLogistic(model, row);
};

/** Nearest class mean after standardisation: a cheap classifier for one feature at a time. */
export const NEAREST_CENTROID: Classifier = (x, y, classes) => {
  const d = x[0].length;
  const centroids = Array.from({ length: classes }, () => new Float64Array(d));
  const counts = new Array<number>(classes).fill(0);
  x.forEach((row, i) => {
    counts[y[i]]++;
    for (let j = 0; j < d; j++) centroids[y[i]][j] += row[j];
  });
  centroids.forEach((c, k) => c.forEach((_, j) => (c[j] /= counts[k] || 1)));
  return (row) => {
    let best = 0;
    let bestDistance = Infinity;
    centroids.forEach((c, k) => {
      if (counts[k] === 0) return;
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (row[j] - c[j]) ** 2;
      if (dist < bestDistance) {
        bestDistance = dist;
        best = k;
      }
    });
    return best;
  };
};

/** Stratified k-fold cross-validation; returns the out-of-fold prediction of every row. */
export function crossValidatedPredictions(
  x: number[][],
  y: number[],
  classes: number,
  folds: number,
  seed: number,
  classifier: Classifier = LOGISTIC,
): number[] {
  const fold = new Array<number>(y.length);
  const rng = new Rng(seed);
  for (let c = 0; c < classes; c++) {
    const members = rng.shuffle(y.map((label, i) => (label === c ? i : -1)).filter((i) => i >= 0));
    members.forEach((i, k) => (fold[i] = k % folds));
  }
  const predictions = new Array<number>(y.length);
  for (let f = 0; f < folds; f++) {
    const trainRows = y.map((_, i) => i).filter((i) => fold[i] !== f);
    const testRows = y.map((_, i) => i).filter((i) => fold[i] === f);
    if (testRows.length === 0) continue;
    const predict = classifier(trainRows.map((i) => x[i]), trainRows.map((i) => y[i]), classes);
    for (const i of testRows) predictions[i] = predict(x[i]);
  }
  return predictions;
}

function standardise(row: number[], mean: Float64Array, scale: Float64Array): Float64Array {
  const z = new Float64Array(row.length);
  for (let j = 0; j < row.length; j++) z[j] = (row[j] - mean[j]) / scale[j];
  return z;
}

function score(w: Float64Array, z: Float64Array): number {
  let s = w[z.length];
  for (let j = 0; j < z.length; j++) s += w[j] * z[j];
  return s;
}

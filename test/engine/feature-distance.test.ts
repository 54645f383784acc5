import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitFeatureDistance, knnDistance, MAX_REFERENCE_IMAGES, MAX_THRESHOLD_SAMPLES, NEIGHBOURS } from '../../server/src/engine/ood/featureDistance';
import { Rng } from '../../server/src/engine/util/rng';

/** Seeded non-negative vectors, like pooled ReLU features. */
function features(n: number, dims: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: dims }, () => Math.max(0, rng.next() - 0.3)));
}

/** The definition, written out: sort every cosine distance, average the k smallest. */
function bruteForce(train: Float32Array[], q: Float32Array, k: number, skip = -1): number {
  const unit = (v: Float32Array) => {
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
    return Array.from(v, (x) => x / norm);
  };
  const uq = unit(q);
  const d = train.flatMap((t, i) => (i === skip ? [] : [1 - unit(t).reduce((s, x, j) => s + x * uq[j], 0)])).sort((a, b) => a - b);
  const kk = Math.min(k, d.length);
  return d.slice(0, kk).reduce((s, x) => s + x, 0) / kk;
}

test('k-nearest cosine distance: the running top-k gives the sorted definition, with and without leaving one out', () => {
  const train = features(300, 64, 1);
  const model = fitFeatureDistance(train, features(20, 64, 2));
  assert.equal(model.n, 300, 'under the cap every training image is a reference');
  assert.equal(model.valDistances.length, 20 + 300, 'every validation and leave-one-out distance');
  for (const [i, q] of features(15, 64, 3).entries()) {
    assert.ok(Math.abs(knnDistance(model, q) - bruteForce(train, q, NEIGHBOURS)) < 1e-6, `query ${i}`);
    assert.ok(Math.abs(knnDistance(model, train[i], i) - bruteForce(train, train[i], NEIGHBOURS, i)) < 1e-6, `leave-one-out ${i}`);
  }
});

test('a large training set keeps at most MAX_REFERENCE_IMAGES references and a bounded threshold sample', () => {
  const n = MAX_REFERENCE_IMAGES * 2 + 7;
  const train = features(n, 32, 4);
  const model = fitFeatureDistance(train, features(MAX_THRESHOLD_SAMPLES + 500, 32, 5));
  assert.equal(model.n, MAX_REFERENCE_IMAGES);
  assert.equal(model.train.length, MAX_REFERENCE_IMAGES * 32);
  assert.equal(model.valDistances.length, 2 * MAX_THRESHOLD_SAMPLES);
  assert.ok(model.threshold > 0 && model.threshold < 1, `threshold ${model.threshold}`);
  // The references are spread over the whole list: the last kept one comes from its end, not its first half.
  const last = model.train.subarray((MAX_REFERENCE_IMAGES - 1) * 32, MAX_REFERENCE_IMAGES * 32);
  const norm = Math.sqrt(train[n - 3].reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(last[0] - train[n - 3][0] / norm) < 1e-6, 'training image n-3 (evenly spaced) is the last reference');
});

test("the fit's leave-one-out distances (each pair's dot taken once) are the definition's, all rows or an evenly spaced part", () => {
  const train = features(120, 48, 6);
  const full = fitFeatureDistance(train, []);
  const expected = train.map((t, i) => bruteForce(train, t, NEIGHBOURS, i)).sort((a, b) => a - b);
  assert.equal(full.valDistances.length, 120);
  full.valDistances.forEach((d, i) => assert.ok(Math.abs(d - expected[i]) < 1e-6, `sorted distance ${i}: ${d} vs ${expected[i]}`));

  // More references than threshold samples: the leave-one-out rows are a subset, compared against every reference.
  const n = MAX_THRESHOLD_SAMPLES + 300;
  const many = features(n, 8, 7);
  const capped = fitFeatureDistance(many, []);
  assert.equal(capped.valDistances.length, MAX_THRESHOLD_SAMPLES);
  const rows = Array.from({ length: MAX_THRESHOLD_SAMPLES }, (_, i) => Math.floor((i * n) / MAX_THRESHOLD_SAMPLES));
  const definition = rows.map((i) => knnDistance(capped, many[i], i)).sort((a, b) => a - b);
  capped.valDistances.forEach((d, i) => assert.ok(Math.abs(d - definition[i]) < 1e-6, `capped sorted distance ${i}: ${d} vs ${definition[i]}`));
});

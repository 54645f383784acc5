import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectRanks } from '../../server/src/engine/audit/imageProbe';
import { Rng } from '../../server/src/engine/util/rng';

test("the audit's intensity percentiles by selection equal those of a full sort (ties, tiny and large arrays)", () => {
  const rng = new Rng(7);
  for (let t = 0; t < 400; t++) {
    const n = 1 + Math.floor(rng.uniform(0, t < 100 ? 12 : 20000));
    const ties = t % 3 === 0;
    const values = Float32Array.from({ length: n }, () => (ties ? Math.floor(rng.uniform(0, 5)) / 4 : rng.uniform(0, 1)));
    const sorted = Float32Array.from(values).sort();
    const ranks = [0.05, 0.5, 0.95].map((p) => Math.min(n - 1, Math.floor(p * n)));
    assert.deepEqual(selectRanks(Float32Array.from(values), ranks), ranks.map((k) => sorted[k]), `array ${t} of ${n}`);
  }
});

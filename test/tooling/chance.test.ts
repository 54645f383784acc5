/** The chance-level arithmetic the learning tests rely on (test/helpers/chance.ts), against closed forms. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { beyondLuck, binomialTail, chanceLevel } from '../helpers/chance';

test('binomialTail matches hand-computed tails', () => {
  // 4 or more of 6 right at p = 1/3: (15 * 4 + 6 * 2 + 1) / 3^6.
  assert.ok(Math.abs(binomialTail(6, 1 / 3, 4) - 73 / 729) < 1e-12);
  assert.equal(binomialTail(6, 1 / 3, 0), 1);
  assert.equal(binomialTail(6, 1 / 3, 7), 0);
  assert.ok(Math.abs(binomialTail(66, 0.5, 66) - 0.5 ** 66) < 1e-30);
  // Symmetry at p = 1/2: P(X >= 34) = P(X <= 32) = (1 - P(X = 33)) / 2.
  let p33 = 1;
  for (let i = 1; i <= 33; i++) p33 *= (66 - 33 + i) / i;
  p33 *= 0.5 ** 66;
  assert.ok(Math.abs(binomialTail(66, 0.5, 34) - (1 - p33) / 2) < 1e-12);
});

test('chanceLevel is the largest class share; beyondLuck is the first count with a tail below alpha', () => {
  assert.equal(chanceLevel(['a', 'a', 'b', 'c']), 0.5);
  const k = beyondLuck(66, 26 / 66, 1e-6);
  assert.ok(binomialTail(66, 26 / 66, k) < 1e-6 && binomialTail(66, 26 / 66, k - 1) >= 1e-6);
  assert.equal(k, 46);
  assert.equal(beyondLuck(6, 1 / 3, 1e-6), 7, 'six images can never rule out luck at 1e-6');
});

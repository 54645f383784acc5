import assert from 'node:assert/strict';
import type * as tf from '@tensorflow/tfjs-core';
import { CxrError, type CxrErrorCode } from '../../server/src/engine/errors';
import type { Rng } from '../../server/src/engine/util/rng';

/** For assert.throws: the error is a CxrError of `code` whose message matches every pattern. */
export function expectError(code: CxrErrorCode, ...patterns: RegExp[]) {
  return (e: unknown) => {
    assert.ok(e instanceof CxrError, `expected a CxrError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };
}

/** Bit-for-bit equality of two float32 tensors or arrays (NaN payloads and -0 included). */
export function sameBits(a: tf.Tensor | Float32Array, b: tf.Tensor | Float32Array): boolean {
  const bytes = (t: tf.Tensor | Float32Array) => {
    const v = t instanceof Float32Array ? t : (t.dataSync() as Float32Array);
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  };
  return bytes(a).equals(bytes(b));
}

/** Values for a weight of `shape`, uniform in [-bound, bound): fixtures whose every weight differs from the model's. */
export function randomWeight(rng: Rng, shape: number[], bound: number): Float32Array {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
  return data;
}

/** Largest |got - ref| over the largest |ref| (the absolute difference when ref is all zeros): one scale-free number per tensor. */
export function relativeError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(got.length, ref.length, 'compared arrays differ in length');
  let err = 0;
  let mag = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return mag === 0 ? err : err / mag;
}

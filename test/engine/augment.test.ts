import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyAffine, applyTransform, augmentImage, randomTransform, IDENTITY_TRANSFORM, type AffineTransform } from '../../server/src/engine/data/augment';
import { decodeImage } from '../../server/src/engine/data/decode';
import { CxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';
import { COVID19, KERAS_APPLY_TRANSFORM, requireShared } from '../helpers/shared';

/** keras-apply-transform.json: an H x W x 3 image and Keras's output for each set of parameters (Keras's names). */
interface KerasFixture {
  input: number[][][];
  cases: { params: { theta?: number; tx?: number; ty?: number; zx?: number; zy?: number }; output: number[][][] }[];
}

const NO_AUGMENT = { rotationDeg: 0, widthShift: 0, heightShift: 0, zoom: 0 };
const STRONG = { rotationDeg: 30, widthShift: 0.2, heightShift: 0.2, zoom: 0.3 };

function randomImage(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size * size * 3 }, () => rng.next());
}

/** A black image with one white pixel; returns where the brightest pixel lands after `t`. */
function moveDot(size: number, row: number, col: number, t: Partial<AffineTransform>): [number, number] {
  const img = new Float32Array(size * size * 3);
  img.fill(1, (row * size + col) * 3, (row * size + col) * 3 + 3);
  const out = applyTransform(img, size, { ...IDENTITY_TRANSFORM, ...t });
  let best = 0;
  for (let i = 0; i < out.length; i += 3) if (out[i] > out[best]) best = i;
  assert.ok(out[best] > 0.99, `the dot was blurred or lost (max ${out[best]})`);
  return [Math.floor(best / 3 / size), (best / 3) % size];
}

describe('augmentImage', () => {
  it('reproduces the input exactly when every range is 0, and the identity transform does too', () => {
    const img = randomImage(32, 1);
    assert.deepEqual(augmentImage(img, 32, NO_AUGMENT, new Rng(5)), img);
    const almostIdentity = applyTransform(img, 32, { ...IDENTITY_TRANSFORM, thetaDeg: 360 });
    for (let i = 0; i < img.length; i++) assert.ok(Math.abs(almostIdentity[i] - img[i]) < 1e-5);
  });

  it("equals Keras's own ImageDataGenerator.apply_transform on every pixel, edges included (../shared/fixtures/keras)", () => {
    const fixture = JSON.parse(fs.readFileSync(requireShared(KERAS_APPLY_TRANSFORM), 'utf8')) as KerasFixture;
    const height = fixture.input.length;
    const width = fixture.input[0].length;
    assert.notEqual(height, width, 'the fixture must be non-square, or the axes and the centre are not pinned down');
    const input = Float32Array.from(fixture.input.flat(2));
    assert.equal(fixture.cases.length, 7);
    for (const { params, output } of fixture.cases) {
      const t: AffineTransform = { thetaDeg: params.theta ?? 0, tx: params.tx ?? 0, ty: params.ty ?? 0, zx: params.zx ?? 1, zy: params.zy ?? 1 };
      const ours = applyAffine(input, height, width, t);
      const expected = output.flat(2);
      assert.equal(ours.length, expected.length);
      let worst = 0;
      let worstEdge = 0;
      for (let i = 0; i < expected.length; i++) {
        const err = Math.abs(ours[i] - expected[i]);
        worst = Math.max(worst, err);
        const r = Math.floor(i / 3 / width);
        const c = Math.floor(i / 3) % width;
        if (r === 0 || c === 0 || r === height - 1 || c === width - 1) worstEdge = Math.max(worstEdge, err);
      }
      assert.ok(worst < 1e-5, `${JSON.stringify(params)}: largest difference from Keras ${worst} (border ${worstEdge})`);
      // The transform must move something, or a broken implementation returning the input could pass.
      assert.ok(expected.some((v, i) => Math.abs(v - input[i]) > 0.05), `${JSON.stringify(params)} changes the image`);
    }
  });

  it('means what Keras means: tx > 0 moves the picture left, ty > 0 up, theta > 0 turns counter-clockwise, zx scales columns', () => {
    assert.deepEqual(moveDot(32, 10, 10, { tx: 3 }), [10, 7]);
    assert.deepEqual(moveDot(32, 10, 10, { tx: -4 }), [10, 14]);
    assert.deepEqual(moveDot(32, 10, 10, { ty: 5 }), [5, 10]);
    assert.deepEqual(moveDot(32, 10, 10, { ty: -5 }), [15, 10]);
    // 33 x 33: the centre is pixel (16, 16). Above the centre goes to its left at +90 degrees.
    assert.deepEqual(moveDot(33, 6, 16, { thetaDeg: 90 }), [16, 6]);
    assert.deepEqual(moveDot(33, 6, 16, { thetaDeg: -90 }), [16, 26]);
    // 180 degrees about the centre ((n-1)/2 on a square image) maps (r, c) to (n-1-r, n-1-c) on an even size too.
    assert.deepEqual(moveDot(32, 3, 20, { thetaDeg: 180 }), [28, 11]);
    // zoom > 1 shrinks the picture towards the centre, < 1 enlarges it.
    assert.deepEqual(moveDot(33, 16, 6, { zx: 2 }), [16, 11]);
    assert.deepEqual(moveDot(33, 6, 16, { zy: 2 }), [11, 16]);
    assert.deepEqual(moveDot(33, 16, 11, { zx: 0.5 }), [16, 6]);
  });

  it('draws like Keras: theta, tx, ty uniform in their ranges, zx and zy independent in [1-z, 1+z]', () => {
    const rng = new Rng(3);
    let zxNeZy = 0;
    const seen = { theta: [Infinity, -Infinity], tx: [Infinity, -Infinity], zx: [Infinity, -Infinity] };
    const widen = (r: number[], v: number) => ((r[0] = Math.min(r[0], v)), (r[1] = Math.max(r[1], v)));
    for (let k = 0; k < 2000; k++) {
      const t = randomTransform(STRONG, 224, rng);
      assert.ok(Math.abs(t.thetaDeg) <= 30 && Math.abs(t.tx) <= 0.2 * 224 && Math.abs(t.ty) <= 0.2 * 224);
      assert.ok(t.zx >= 0.7 && t.zx <= 1.3 && t.zy >= 0.7 && t.zy <= 1.3);
      if (t.zx !== t.zy) zxNeZy++;
      widen(seen.theta, t.thetaDeg);
      widen(seen.tx, t.tx);
      widen(seen.zx, t.zx);
    }
    assert.equal(zxNeZy, 2000);
    assert.ok(seen.theta[0] < -29 && seen.theta[1] > 29, `theta range ${seen.theta}`);
    assert.ok(seen.tx[0] < -44 && seen.tx[1] > 44, `tx range ${seen.tx}`);
    assert.ok(seen.zx[0] < 0.71 && seen.zx[1] > 1.29, `zx range ${seen.zx}`);
    // A zero range draws nothing, as in Keras: the stream is not consumed.
    const a = new Rng(9);
    randomTransform(NO_AUGMENT, 224, a);
    assert.equal(a.getState(), new Rng(9).getState());
  });

  it('keeps values in [0, 1], is reproducible for a seed and differs across seeds', () => {
    const img = randomImage(64, 2);
    for (let k = 0; k < 20; k++) {
      const out = augmentImage(img, 64, STRONG, new Rng(k));
      for (const v of out) assert.ok(v >= 0 && v <= 1, `value ${v}`);
    }
    assert.deepEqual(augmentImage(img, 64, STRONG, new Rng(11)), augmentImage(img, 64, STRONG, new Rng(11)));
    assert.notDeepEqual(augmentImage(img, 64, STRONG, new Rng(11)), augmentImage(img, 64, STRONG, new Rng(12)));
  });

  it('rejects bad parameters and a wrongly sized image', () => {
    const isInvalid = (e: unknown) => e instanceof CxrError && e.code === 'INVALID_ARGUMENT';
    assert.throws(() => augmentImage(randomImage(8, 1), 8, { ...NO_AUGMENT, zoom: 1.5 }, new Rng(1)), isInvalid);
    assert.throws(() => augmentImage(randomImage(8, 1), 8, { ...NO_AUGMENT, rotationDeg: -5 }, new Rng(1)), isInvalid);
    assert.throws(() => augmentImage(randomImage(8, 1), 9, NO_AUGMENT, new Rng(1)), isInvalid);
  });
});

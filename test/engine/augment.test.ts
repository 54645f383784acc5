import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { applyTransform, augmentImage, randomTransform, IDENTITY_TRANSFORM, type AffineTransform } from '../../server/src/engine/data/augment';
import { decodeImage } from '../../server/src/engine/data/decode';
import { CxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';
import { COVID19, requireShared } from '../helpers/shared';

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

  it('shifts as Keras: tx > 0 (height shift) moves the picture up, ty > 0 (width shift) moves it left', () => {
    assert.deepEqual(moveDot(32, 10, 10, { tx: 3 }), [7, 10]);
    assert.deepEqual(moveDot(32, 10, 10, { tx: -4 }), [14, 10]);
    assert.deepEqual(moveDot(32, 10, 10, { ty: 5 }), [10, 5]);
    assert.deepEqual(moveDot(32, 10, 10, { ty: -5 }), [10, 15]);
  });

  it('rotates as Keras: +90 degrees turns clockwise as displayed (above the centre goes to its right)', () => {
    // 33 x 33: the centre is pixel (16, 16).
    assert.deepEqual(moveDot(33, 6, 16, { thetaDeg: 90 }), [16, 26]);
    assert.deepEqual(moveDot(33, 16, 26, { thetaDeg: 90 }), [26, 16]);
    assert.deepEqual(moveDot(33, 6, 16, { thetaDeg: -90 }), [16, 6]);
    // 180 degrees about the true centre maps (r, c) to (n-1-r, n-1-c) on an even size too.
    assert.deepEqual(moveDot(32, 3, 20, { thetaDeg: 180 }), [28, 11]);
  });

  it('zoom > 1 shrinks the picture towards the centre, < 1 enlarges it', () => {
    assert.deepEqual(moveDot(33, 6, 16, { zx: 2 }), [11, 16]);
    assert.deepEqual(moveDot(33, 16, 6, { zy: 2 }), [16, 11]);
    assert.deepEqual(moveDot(33, 11, 16, { zx: 0.5 }), [6, 16]);
  });

  it("matches scipy.ndimage.affine_transform with Keras's matrix (test/fixtures-gen/keras_affine_reference.py)", () => {
    const n = 7;
    const grey = Array.from({ length: n * n }, (_, i) => ((i * 37) % 49) / 48);
    const img = Float32Array.from(grey.flatMap((v) => [v, v, v]));
    const cases: [AffineTransform, number[]][] = [
      [
        { thetaDeg: 30, tx: 1.5, ty: -2.25, zx: 0.85, zy: 1.1 },
        [0.398321, 0.237905, 0.316697, 0.702033, 0.40772, 0.398863, 0.631406, 0.613024, 0.452607, 0.29219, 0.867567, 0.516172, 0.247211, 0.681115, 0.729167, 0.667309, 0.400939, 0.585306, 0.624625, 0.344553, 0.818674, 0.729167, 0.729167, 0.509391, 0.582034, 0.733077, 0.334503, 0.687575, 0.729167, 0.64887, 0.410713, 0.403716, 0.841529, 0.442955, 0.588343, 0.729167, 0.54262, 0.304463, 0.731321, 0.848982, 0.551407, 0.54472, 0.674527, 0.43637, 0.324607, 0.980889, 0.742732, 0.504575, 0.27807],
      ],
      [
        { thetaDeg: -12.5, tx: -1, ty: 1.5, zx: 1.2, zy: 0.8 },
        [0.241594, 0.046335, 0.544252, 0.67665, 0.541667, 0.541667, 0.541667, 0.306526, 0.111267, 0.344045, 0.738826, 0.594966, 0.644204, 0.694707, 0.563186, 0.41843, 0.273673, 0.128916, 0.463033, 0.451898, 0.325641, 0.40946, 0.823212, 0.662395, 0.535552, 0.390795, 0.306778, 0.35728, 0.355624, 0.210867, 0.492969, 0.634966, 0.797431, 0.652674, 0.698984, 0.730355, 0.617503, 0.472746, 0.378832, 0.313477, 0.74915, 0.825364, 0.522374, 0.675798, 0.879382, 0.734625, 0.579316, 0.384056, 0.25],
      ],
    ];
    for (const [t, expected] of cases) {
      const out = applyTransform(img, n, t);
      expected.forEach((v, i) => {
        for (let ch = 0; ch < 3; ch++) assert.ok(Math.abs(out[i * 3 + ch] - v) < 2e-6, `${JSON.stringify(t)} pixel ${i}: ${out[i * 3 + ch]} vs ${v}`);
      });
    }
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

  it('takes a few ms per 224 x 224 image (a real X-ray, strong augmentation)', async () => {
    const img = (await decodeImage(requireShared(path.join(COVID19, 'train', 'Normal', '01.jpeg')), 224)).data;
    const rng = new Rng(1);
    augmentImage(img, 224, STRONG, rng); // warm-up
    const n = 50;
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) augmentImage(img, 224, STRONG, rng);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    console.log(`augmentImage: ${ms.toFixed(2)} ms per 224x224 image`);
    assert.ok(ms < 50, `${ms} ms per image`);
  });
});

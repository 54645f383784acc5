import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { ClassActivationMap, createCam, GradCam, type CamOutput } from '../../server/src/engine/explain/cam';
import { renderOverlayPng, upsampleBilinear } from '../../server/src/engine/explain/render';
import { CxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';
import { loadPretrainedClassifier } from '../../server/src/engine/inference/pretrainedClassifier';
import { decodeImage } from '../../server/src/engine/data/decode';
import { MOBILENET_SAMPLES, MOBILENET_TOP_MANIFEST, requireShared } from '../helpers/shared';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Known evidence: 48x48 noise images where only one off-centre square carries the class.
//   class 0 'bright': a bright 10x10 square near the top-right corner
//   class 1 'dark':   a dark 10x10 square near the bottom-left corner
//   class 2 'none':   noise only
// The two squares are each other's transpose, so a transposed map lands on the wrong square; a left-right or
// up-down flip lands on an empty corner. Either mistake fails the region checks below.
const SIZE = 48;
const BLOB = 10;
const NOISE_LO = 0.35; // background pixels are uniform in [0.35, 0.65]
const CLASSES = ['bright', 'dark', 'none'];
interface Box { top: number; left: number; bottom: number; right: number } // inclusive-exclusive
const BRIGHT_BOX: Box = { top: 3, left: SIZE - 3 - BLOB, bottom: 3 + BLOB, right: SIZE - 3 };
const DARK_BOX: Box = { top: SIZE - 3 - BLOB, left: 3, bottom: SIZE - 3, right: 3 + BLOB };
/** Where evidence may show up: the square plus a margin for the feature map's coarse cells. */
const grow = (b: Box, m: number): Box => ({ top: Math.max(0, b.top - m), left: Math.max(0, b.left - m), bottom: Math.min(SIZE, b.bottom + m), right: Math.min(SIZE, b.right + m) });
const SQUARES = [BRIGHT_BOX, DARK_BOX];
const EVIDENCE = SQUARES.map((b) => grow(b, 4));
const inBox = (b: Box, y: number, x: number) => y >= b.top && y < b.bottom && x >= b.left && x < b.right;

function makeImages(perClass: number, seed: number): { x: Float32Array; y: number[] } {
  const rng = new Rng(seed);
  const n = perClass * CLASSES.length;
  const x = new Float32Array(n * SIZE * SIZE * 3);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % CLASSES.length;
    y.push(label);
    const box = label === 0 ? BRIGHT_BOX : label === 1 ? DARK_BOX : null;
    for (let r = 0; r < SIZE; r++) {
      for (let c = 0; c < SIZE; c++) {
        let v = rng.uniform(NOISE_LO, 1 - NOISE_LO);
        if (box && inBox(box, r, c)) v = label === 0 ? rng.uniform(0.9, 1) : rng.uniform(0, 0.1);
        const p = ((i * SIZE + r) * SIZE + c) * 3;
        x[p] = x[p + 1] = x[p + 2] = v;
      }
    }
  }
  return { x, y };
}

/**
 * Conv-ReLU-Conv-ReLU (12x12 feature map) -> GAP -> Dense softmax. The convolutions stay at their seeded random
 * initialisation (frozen) and model.fit trains the head, the project's own frozen-base recipe. Training the convolutions
 * needs Conv2DBackpropFilter, which tfjs-backend-wasm 4.22 lacks and tfjs-backend-cpu runs at about 2.3 s per 30-image
 * batch for the first layer alone (measured on this machine), far beyond a unit test's budget.
 */
function buildNet(): tfl.LayersModel {
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const input = tfl.input({ shape: [SIZE, SIZE, 3] });
  let h = tfl.layers.conv2d({ filters: 16, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: seeded(1), trainable: false, name: 'conv1' }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: seeded(2), trainable: false, name: 'features' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: CLASSES.length, activation: 'softmax', kernelInitializer: seeded(3), name: 'predictions' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'toy' });
}

let model: tfl.LayersModel;
let testImages: { x: Float32Array; y: number[] };
let backendNote = '';

before(async () => {
  const wasm = await tf.setBackend('wasm');
  if (!wasm) assert.ok(await tf.setBackend('cpu'));
  const trainOn = tf.getBackend();
  const train = makeImages(40, 7);
  testImages = makeImages(10, 99);
  model = buildNet();
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const xs = preprocess(train.x, train.y.length);
  const ys = tf.oneHot(tf.tensor1d(train.y, 'int32'), CLASSES.length);
  const started = Date.now();
  const history = await model.fit(xs, ys, { epochs: 12, batchSize: 30, shuffle: false, verbose: 0 });
  xs.dispose();
  ys.dispose();
  const acc = history.history.acc as number[];
  backendNote = `trained on ${trainOn} in ${((Date.now() - started) / 1000).toFixed(1)} s (final train accuracy ${acc[acc.length - 1].toFixed(3)}), explaining on ${tf.getBackend()}`;
  console.log(backendNote);
});

/** The network sees images scaled to [-1, 1], as the project's backbones do; overlays use the [0, 1] originals. */
function preprocess(x: Float32Array, n: number): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(tf.tensor4d(x, [n, SIZE, SIZE, 3]), 2), 1) as tf.Tensor4D);
}

function testBatch(): tf.Tensor4D {
  return preprocess(testImages.x, testImages.y.length);
}

function argmaxOf(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

function meanIn(map: Float32Array, box: Box): number {
  let sum = 0;
  let n = 0;
  for (let y = box.top; y < box.bottom; y++) for (let x = box.left; x < box.right; x++, n++) sum += map[y * SIZE + x];
  return sum / n;
}
const flipLR = (b: Box): Box => ({ top: b.top, bottom: b.bottom, left: SIZE - b.right, right: SIZE - b.left });
const flipUD = (b: Box): Box => ({ left: b.left, right: b.right, top: SIZE - b.bottom, bottom: SIZE - b.top });

function checkEvidence(method: string, outs: CamOutput[]): void {
  let checked = 0;
  outs.forEach((o, i) => {
    const label = testImages.y[i];
    if (label === 2) return;
    assert.equal(o.target, label, `${method}: image ${i} is predicted ${CLASSES[o.target]}, not ${CLASSES[label]}`);
    checked++;
    assert.equal(o.allZero, false);
    assert.deepEqual([o.width, o.height], [12, 12]);
    const up = upsampleBilinear(o.map, o.width, o.height, SIZE, SIZE);
    const peak = argmaxOf(up);
    const [py, px] = [Math.floor(peak / SIZE), peak % SIZE];
    assert.ok(inBox(EVIDENCE[label], py, px), `${method}: image ${i} (${CLASSES[label]}) peaks at (${px}, ${py}), outside its evidence square`);
    // Orientation: the square must outweigh its transposed, left-right and up-down mirror images.
    const square = SQUARES[label];
    const own = meanIn(up, square);
    for (const [name, mirror] of [['transposed', SQUARES[1 - label]], ['left-right', flipLR(square)], ['up-down', flipUD(square)]] as const) {
      const m = meanIn(up, mirror);
      assert.ok(own > m + 0.2, `${method}: image ${i}: mean heat ${own.toFixed(2)} on the square vs ${m.toFixed(2)} on its ${name} mirror`);
    }
  });
  assert.equal(checked, 20);
}

test('the toy net learns the synthetic task', () => {
  const x = testBatch();
  const probs = model.predict(x) as tf.Tensor2D;
  const pred = (probs.arraySync() as number[][]).map(argmaxOf);
  x.dispose();
  probs.dispose();
  const correct = pred.filter((p, i) => p === testImages.y[i]).length;
  console.log(`toy net test accuracy ${correct}/${pred.length}; ${backendNote}`);
  assert.ok(correct >= 28, `toy net only got ${correct}/30 right`);
});

for (const method of ['cam', 'gradcam'] as const) {
  test(`${method}: the heatmap sits on the class's evidence, the right way round, and the overlay shows it in jet's red`, async () => {
    const cam = createCam(method, model, 'features');
    const x = testBatch();
    const outs = await cam.compute(x);
    x.dispose();
    cam.dispose();
    checkEvidence(method, outs);
    if (method === 'gradcam') {
      for (const o of outs) {
        let max = 0;
        for (const v of o.map) max = Math.max(max, v);
        assert.ok(o.allZero || max === 1, 'Grad-CAM maps are divided by their maximum');
        assert.ok(o.map.every((v) => v >= 0));
      }
    }

    // Overlay of the first bright and the first dark image: red-dominant on the square, blue-dominant in the far corner.
    for (const label of [0, 1]) {
      const i = testImages.y.indexOf(label);
      const o = outs[i];
      assert.equal(o.target, label);
      const unitRgb = testImages.x.slice(i * SIZE * SIZE * 3, (i + 1) * SIZE * SIZE * 3);
      const png = await renderOverlayPng(unitRgb, SIZE, upsampleBilinear(o.map, o.width, o.height, SIZE, SIZE));
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height, info.channels], [SIZE, SIZE, 3]);
      const meanRgb = (b: Box) => {
        const sum = [0, 0, 0];
        let n = 0;
        for (let y = b.top; y < b.bottom; y++) for (let xx = b.left; xx < b.right; xx++, n++) for (let c = 0; c < 3; c++) sum[c] += data[(y * SIZE + xx) * 3 + c];
        return sum.map((s) => s / n);
      };
      const onSquare = meanRgb(SQUARES[label]);
      const farCorner = meanRgb(SQUARES[1 - label]);
      assert.ok(onSquare[0] - onSquare[2] > 20, `${method} ${CLASSES[label]}: square should be red-dominant, mean RGB ${onSquare.map(Math.round)}`);
      assert.ok(farCorner[2] - farCorner[0] > 20, `${method} ${CLASSES[label]}: far corner should be blue-dominant, mean RGB ${farCorner.map(Math.round)}`);
    }
  });
}

test('targets: explaining a class that was not predicted', async () => {
  const x = testBatch();
  const n = testImages.y.length;
  for (const method of ['cam', 'gradcam'] as const) {
    const cam = createCam(method, model, 'features');
    const predicted = await cam.compute(x);
    // Ask every 'bright' image about 'dark' and leave the others on their prediction (undefined).
    const targets = testImages.y.map((label) => (label === 0 ? 1 : undefined));
    const other = await cam.compute(x, targets);
    cam.dispose();
    for (let i = 0; i < n; i++) {
      assert.deepEqual(other[i].probabilities, predicted[i].probabilities);
      if (testImages.y[i] !== 0) {
        assert.equal(other[i].target, predicted[i].target);
        assert.deepEqual(other[i].map, predicted[i].map);
        continue;
      }
      assert.equal(other[i].target, 1);
      const up = upsampleBilinear(other[i].map, 12, 12, SIZE, SIZE);
      const onBright = meanIn(up, BRIGHT_BOX);
      let mean = 0;
      for (const v of up) mean += v / up.length;
      // The bright square is evidence against 'dark': colder than the map's average, and not where it peaks.
      assert.ok(onBright < mean - 0.15, `${method}: image ${i} explained as 'dark' has heat ${onBright.toFixed(2)} on the bright square, map mean ${mean.toFixed(2)}`);
      const peak = argmaxOf(up);
      assert.ok(!inBox(BRIGHT_BOX, Math.floor(peak / SIZE), peak % SIZE), `${method}: image ${i} explained as 'dark' peaks on the bright square`);
    }
  }
  x.dispose();
});

/** A 6x6 grey-scale net with hand-set weights: conv (2 filters of ones, valid) -> ReLU -> GAP -> Dense(2). */
function handNet(opts: { softmaxLayer: boolean }): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 1] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', kernelInitializer: 'ones', name: 'features' });
  let h = conv.apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 2, activation: opts.softmaxLayer ? 'linear' : 'softmax', name: 'logits' });
  h = dense.apply(h) as tfl.SymbolicTensor;
  if (opts.softmaxLayer) h = tfl.layers.activation({ activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: h });
  conv.setWeights([tf.tensor4d([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [3, 3, 1, 2]), tf.tensor1d([0, -4])]);
  // class 0 is pushed down by both channels, class 1 up by channel 0 and down by channel 1
  dense.setWeights([tf.tensor2d([[-1, 1], [-1, -0.5]]), tf.tensor1d([0.3, -0.2])]);
  return m;
}

function handInput(seed: number): { x: tf.Tensor4D; pixels: number[] } {
  const rng = new Rng(seed);
  const pixels = Array.from({ length: 36 }, () => rng.uniform(0, 1));
  return { x: tf.tensor4d(pixels, [1, 6, 6, 1]), pixels };
}

test('closed forms on a hand-set net: Grad-CAM uses the logit, CAM the Dense kernel column, whichever way softmax is attached', async () => {
  const { x, pixels } = handInput(5);
  // Feature map: channel 0 = ReLU(sum of the 3x3 window), channel 1 = ReLU(sum - 4), on the 4x4 valid positions.
  const a0: number[] = [];
  const a1: number[] = [];
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) {
    let sum = 0;
    for (let dr = 0; dr < 3; dr++) for (let dc = 0; dc < 3; dc++) sum += pixels[(r + dr) * 6 + (c + dc)];
    a0.push(Math.max(0, sum));
    a1.push(Math.max(0, sum - 4));
  }
  const kernel = [[-1, 1], [-1, -0.5]];
  const raw = (t: number) => a0.map((v, p) => kernel[0][t] * v + kernel[1][t] * a1[p]);
  const expectGradCam = (t: number) => {
    const r = raw(t).map((v) => Math.max(0, v));
    const max = Math.max(...r);
    return max > 0 ? r.map((v) => v / max) : r.map(() => 0);
  };
  const expectCam = (t: number) => {
    const r = raw(t);
    const [min, max] = [Math.min(...r), Math.max(...r)];
    return r.map((v) => (v - min) / (max - min));
  };
  const near = (actual: Float32Array, expected: number[], what: string) =>
    expected.forEach((e, p) => assert.ok(Math.abs(actual[p] - e) < 1e-5, `${what}[${p}]: expected ${e}, got ${actual[p]}`));

  for (const softmaxLayer of [false, true]) {
    const m = handNet({ softmaxLayer });
    const grad = new GradCam(m, 'features');
    const cam = new ClassActivationMap(m, 'features');
    const [g1] = await grad.compute(x, [1]);
    const [c1] = await cam.compute(x, [1]);
    near(g1.map, expectGradCam(1), `gradcam target 1 (softmax layer ${softmaxLayer})`);
    near(c1.map, expectCam(1), `cam target 1 (softmax layer ${softmaxLayer})`);
    // Class 0: both channels count against it, so everything is negative before Grad-CAM's ReLU.
    const [g0] = await grad.compute(x, [0]);
    assert.equal(g0.allZero, true);
    assert.ok(g0.map.every((v) => v === 0));
    // CAM keeps the layout (no ReLU): hottest where the features are weakest.
    const [c0] = await cam.compute(x, [0]);
    assert.equal(c0.allZero, false);
    near(c0.map, expectCam(0), 'cam target 0');
    assert.equal(argmaxOf(c0.map), a0.indexOf(Math.min(...a0)));
    const probs = (m.predict(x) as tf.Tensor2D);
    const p = probs.arraySync()[0];
    probs.dispose();
    assert.ok(Math.abs(g1.probabilities[0] - p[0]) < 1e-6 && Math.abs(g1.probabilities[1] - p[1]) < 1e-6);
    grad.dispose();
    cam.dispose();
    m.dispose();
  }
  x.dispose();
});

test('flat and zero feature maps are reported as allZero with an all-zero map, never NaN', async () => {
  const zeros = tf.zeros([2, SIZE, SIZE, 3]) as tf.Tensor4D; // features of a zero image are exactly 0 (frozen zero biases)
  for (const method of ['cam', 'gradcam'] as const) {
    const cam = createCam(method, model, 'features');
    const outs = await cam.compute(zeros);
    cam.dispose();
    for (const o of outs) {
      assert.equal(o.allZero, true, method);
      assert.ok(o.map.every((v) => v === 0), method);
    }
  }
  zeros.dispose();
});

test('no tensor is left behind by construction, compute (with and without targets) and dispose', async () => {
  const x = testBatch();
  for (const method of ['cam', 'gradcam'] as const) {
    const before = tf.memory().numTensors;
    const cam = createCam(method, model, 'features');
    await cam.compute(x);
    await cam.compute(x, testImages.y.map((_, i) => i % 3));
    cam.dispose();
    assert.equal(tf.memory().numTensors, before, `${method} leaked ${tf.memory().numTensors - before} tensors`);
  }
  // The model's own weights must survive the explainer's dispose.
  const probs = model.predict(x) as tf.Tensor;
  probs.dispose();
  x.dispose();
});

test('clear errors: CAM on a head without global pooling, unknown layers, non-spatial layers, bad targets and inputs', async () => {
  const input = tfl.input({ shape: [8, 8, 1] });
  const f = tfl.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', name: 'features' }).apply(input) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({}).apply(f) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(flat) as tfl.SymbolicTensor;
  const flatModel = tfl.model({ inputs: input, outputs: out });
  assert.throws(() => createCam('cam', flatModel, 'features'), (e: unknown) => e instanceof CxrError && /GlobalAveragePooling2D.*Grad-CAM/s.test(e.message));
  // Grad-CAM needs no particular head.
  const grad = createCam('gradcam', flatModel, 'features');
  const x = tf.randomUniform([1, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
  const [o] = await grad.compute(x);
  assert.deepEqual([o.width, o.height], [6, 6]);
  await assert.rejects(grad.compute(x, [2]), /not a class index in 0\.\.1/);
  await assert.rejects(grad.compute(tf.zeros([1, 9, 9, 1]) as tf.Tensor4D), /does not fit the model input/);
  grad.dispose();
  await assert.rejects(grad.compute(x), /disposed/);
  x.dispose();
  flatModel.dispose();

  assert.throws(() => createCam('cam', model, 'no_such_layer'), (e: unknown) => e instanceof CxrError && /no_such_layer/.test(e.message));
  assert.throws(() => createCam('gradcam', model, 'gap'), (e: unknown) => e instanceof CxrError && /height, width, channels/.test(e.message));
  assert.throws(() => createCam('nope' as 'cam', model, 'features'), /Unknown CAM method 'nope'/);
});

test('real MobileNetV2 (ImageNet top): CAM and Grad-CAM on out_relu agree as theory says, without leaks', async () => {
  // For a GAP -> Dense head, Grad-CAM's logit-gradient weights are the Dense column divided by h*w, so with r the raw
  // CAM sum: gradcam = ReLU(r) / max(r) and cam = (r - min) / (max - min), i.e. cam = a * gradcam + b wherever
  // gradcam > 0. Gradients taken through the 1000-way softmax would mix in every other class and break this.
  const { model, spec } = await loadPretrainedClassifier('mobilenet_v2', requireShared(MOBILENET_TOP_MANIFEST), 1000);
  const expected = JSON.parse(fs.readFileSync(requireShared(path.join(MOBILENET_SAMPLES, 'expected_top5.json')), 'utf8'));
  for (const name of ['cat.jpg', 'hot_dog.jpg']) {
    const image = await decodeImage(path.join(MOBILENET_SAMPLES, name), 224);
    const x = tf.tidy(() => spec.preprocess(tf.tensor4d(image.data, [1, 224, 224, 3]))) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const camMethod = createCam('cam', model, spec.featureLayer);
    const gradMethod = createCam('gradcam', model, spec.featureLayer);
    const [c] = await camMethod.compute(x);
    const [g] = await gradMethod.compute(x);
    camMethod.dispose();
    gradMethod.dispose();
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
    x.dispose();

    assert.equal(c.target, expected.images[name].squash[0].index, `${name}: top-1 class`);
    assert.equal(g.target, c.target);
    assert.deepEqual([c.width, c.height, g.width, g.height], [7, 7, 7, 7]);
    assert.equal(argmaxOf(c.map), argmaxOf(g.map), `${name}: CAM and Grad-CAM peak in different cells`);
    const positive = Array.from(g.map.keys()).filter((p) => g.map[p] > 0.05);
    assert.ok(positive.length >= 3);
    // Least-squares fit of cam against gradcam over the positive cells; the residual must vanish.
    const n = positive.length;
    const mx = positive.reduce((a, p) => a + g.map[p], 0) / n;
    const my = positive.reduce((a, p) => a + c.map[p], 0) / n;
    const slope = positive.reduce((a, p) => a + (g.map[p] - mx) * (c.map[p] - my), 0) / positive.reduce((a, p) => a + (g.map[p] - mx) ** 2, 0);
    const worst = Math.max(...positive.map((p) => Math.abs(c.map[p] - (my + slope * (g.map[p] - mx)))));
    assert.ok(slope > 0 && worst < 1e-3, `${name}: cam vs gradcam slope ${slope}, worst residual ${worst}`);
    // Cells where Grad-CAM is zero had r <= 0, so CAM is at most its value at r = 0 there.
    const camAtZero = my - slope * mx;
    for (let p = 0; p < g.map.length; p++) if (g.map[p] === 0) assert.ok(c.map[p] <= camAtZero + 1e-3);
  }
  // The caller's model is untouched by the explainers' dispose.
  const probe = model.predict(tf.zeros([1, 224, 224, 3])) as tf.Tensor;
  assert.deepEqual(probe.shape, [1, 1000]);
  probe.dispose();
  model.dispose();
});

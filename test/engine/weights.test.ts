import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { getBackbone } from '../../server/src/engine/models/registry';
import { applyNamedWeights, disposeNamedWeights, readWeightsFile, type NamedWeights } from '../../server/src/engine/models/weights';
import { Rng } from '../../server/src/engine/util/rng';
import {
  MOBILENET_NOTOP_H5, MOBILENET_NOTOP_MANIFEST, MOBILENET_SAMPLES, MOBILENET_TOP_MANIFEST, requireShared, tmpDir,
} from '../helpers/shared';
import { expectError, randomWeight, sameBits } from '../helpers/weightAsserts';

type H5 = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
let h5: H5;
const tmp = tmpDir('weights');
const mobilenet = getBackbone('mobilenet_v2');
const vgg16 = getBackbone('vgg16');

async function catImage(): Promise<tf.Tensor4D> {
  const { data } = await sharp(path.join(requireShared(MOBILENET_SAMPLES), 'cat.jpg'))
    .removeAlpha()
    .resize(224, 224, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(data), [1, 224, 224, 3]), 255) as tf.Tensor4D);
}

function features(model: tfl.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => (model.predict(mobilenet.preprocess(x)) as tf.Tensor).dataSync() as Float32Array);
}

/** One group per layer, Keras-1 fixed-length byte strings, datasets directly under the layer group. */
function writeKeras1File(file: string, layers: Array<{ name: string; weights: Array<{ name: string; shape: number[]; data: Float32Array }> }>) {
  const f = new h5.File(file, 'w');
  const fixed = (names: string[]) => `S${Math.max(1, ...names.map((n) => n.length))}`;
  const layerNames = layers.map((l) => l.name);
  f.create_attribute('layer_names', layerNames, [layerNames.length], fixed(layerNames));
  for (const layer of layers) {
    const g = f.create_group(layer.name);
    const names = layer.weights.map((w) => w.name);
    g.create_attribute('weight_names', names, [names.length], fixed(names));
    for (const w of layer.weights) g.create_dataset({ name: w.name, data: w.data, shape: w.shape });
  }
  f.close();
}

before(async () => {
  const wasm = await tf.setBackend('wasm').catch(() => false);
  if (!wasm) await tf.setBackend('cpu');
  console.log(`backend: ${tf.getBackend()}`);
  h5 = await import('h5wasm/node');
  await h5.ready;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('MobileNetV2 weights: TF.js manifest and Keras HDF5', () => {
  let fromTfjs: NamedWeights;
  let fromH5: NamedWeights;
  before(async () => {
    fromTfjs = await readWeightsFile(path.dirname(requireShared(MOBILENET_NOTOP_MANIFEST))); // the folder form
    fromH5 = await readWeightsFile(requireShared(MOBILENET_NOTOP_H5));
  });
  after(() => {
    disposeNamedWeights(fromTfjs);
    disposeNamedWeights(fromH5);
  });

  it('hold the same 260 weights, bit for bit', () => {
    assert.equal(fromTfjs.size, 260);
    assert.deepEqual([...fromH5.keys()].sort(), [...fromTfjs.keys()].sort());
    for (const key of ['Conv1/kernel', 'bn_Conv1/moving_mean', 'block_1_depthwise/depthwise_kernel', 'Conv_1_bn/moving_variance']) {
      assert.ok(fromH5.has(key), key);
    }
    const differing = [...fromTfjs].filter(([k, t]) => !(tf.util.arraysEqual(t.shape, fromH5.get(k)!.shape) && sameBits(t, fromH5.get(k)!)));
    assert.deepEqual(differing.map(([k]) => k), []);
  });

  it('give the same out_relu features on a real photo', async () => {
    const a = mobilenet.build();
    const b = mobilenet.build();
    assert.equal(applyNamedWeights(a, fromTfjs).loaded.length, 260);
    assert.equal(applyNamedWeights(b, fromH5).loaded.length, 260);
    const x = await catImage();
    const fa = features(a, x);
    const fb = features(b, x);
    x.dispose();
    assert.equal(fa.length, 7 * 7 * 1280);
    let maxDiff = 0;
    fa.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - fb[i]))));
    console.log(`out_relu max |TF.js - HDF5| = ${maxDiff} (feature max ${Math.max(...fa).toFixed(3)})`);
    assert.ok(maxDiff <= 1e-5, `max abs diff ${maxDiff}`);
    assert.ok(Math.max(...fa) > 1, 'features should not be all zero');
    a.dispose();
    b.dispose();
  });

  it('report the top of a with-top file as unused when the model has none', async () => {
    const withTop = await readWeightsFile(requireShared(MOBILENET_TOP_MANIFEST));
    const base = mobilenet.build();
    const report = applyNamedWeights(base, withTop);
    assert.deepEqual([report.loaded.length, report.missing, report.unused], [260, [], ['predictions/kernel', 'predictions/bias']]);
    base.dispose();
    disposeNamedWeights(withTop);
  });

  it('fail on weights the file lacks unless allowMissing (or ignored)', () => {
    const full = mobilenet.build({ includeTop: true });
    const before = full.getLayer('predictions').getWeights()[0].dataSync().slice() as Float32Array;
    assert.throws(() => applyNamedWeights(full, fromTfjs, { source: 'no-top.json' }), expectError('WEIGHTS_INVALID', /no-top\.json lacks 2 of the 262/, /predictions\/kernel/));
    // Nothing was written by the failed call.
    assert.ok(!sameBits(full.getLayer('Conv1').getWeights()[0], fromTfjs.get('Conv1/kernel')!));
    const partial = applyNamedWeights(full, fromTfjs, { allowMissing: true });
    assert.deepEqual([partial.loaded.length, partial.missing], [260, ['predictions/kernel', 'predictions/bias']]);
    assert.ok(sameBits(full.getLayer('Conv1').getWeights()[0], fromTfjs.get('Conv1/kernel')!));
    assert.ok(sameBits(before, full.getLayer('predictions').getWeights()[0].dataSync() as Float32Array));
    const ignored = applyNamedWeights(full, fromTfjs, { ignore: (n) => n.startsWith('predictions/') });
    assert.deepEqual([ignored.loaded.length, ignored.missing, ignored.unused], [260, [], []]);
    full.dispose();
  });

  it('read a Keras-2 file of a model that nests the base (weights under one group, inner layer names)', async () => {
    const file = path.join(tmp, 'nested_keras2.h5');
    const f = new h5.File(file, 'w');
    f.create_attribute('layer_names', ['input_2', 'mobilenetv2_1.00_224', 'dense'], [3], 'S20');
    f.create_group('input_2').create_attribute('weight_names', new Float64Array(0), [0]);
    const nested = f.create_group('mobilenetv2_1.00_224');
    const names = [...fromTfjs.keys()].map((k) => `${k}:0`);
    nested.create_attribute('weight_names', names, [names.length], 'S64');
    // h5wasm does not create intermediate groups, so '<inner layer>/<weight>:0' needs its group first.
    const inner = new Map<string, ReturnType<typeof nested.create_group>>();
    for (const [key, t] of fromTfjs) {
      const [layer, weight] = key.split('/');
      if (!inner.has(layer)) inner.set(layer, nested.create_group(layer));
      inner.get(layer)!.create_dataset({ name: `${weight}:0`, data: t.dataSync() as Float32Array, shape: t.shape });
    }
    const dense = f.create_group('dense');
    dense.create_attribute('weight_names', ['dense/kernel:0', 'dense/bias:0'], [2], 'S14');
    const denseInner = dense.create_group('dense');
    denseInner.create_dataset({ name: 'kernel:0', data: new Float32Array(1280 * 3), shape: [1280, 3] });
    denseInner.create_dataset({ name: 'bias:0', data: new Float32Array(3), shape: [3] });
    f.close();
    const weights = await readWeightsFile(file);
    const base = mobilenet.build();
    const report = applyNamedWeights(base, weights);
    assert.deepEqual([report.loaded.length, report.missing, report.unused], [260, [], ['dense/kernel', 'dense/bias']]);
    assert.ok(sameBits(base.getLayer('block_16_project').getWeights()[0], fromTfjs.get('block_16_project/kernel')!));
    disposeNamedWeights(weights);
    base.dispose();
  });
  // The Keras 3 .weights.h5 and .keras formats are tested on the real Keras-written file in keras-files.test.ts.
});

describe('float16-quantised TF.js manifest', () => {
  it('widens half floats back to float32', async () => {
    const dir = path.join(tmp, 'fp16');
    fs.mkdirSync(dir);
    const values = Float32Array.from({ length: 3 * 3 * 3 * 32 }, (_, i) => ((i % 4095) - 2047) / 256); // exact in fp16
    const half = new Uint16Array(values.length);
    values.forEach((v, i) => {
      if (v === 0) return;
      const e = Math.floor(Math.log2(Math.abs(v)));
      half[i] = (v < 0 ? 0x8000 : 0) | ((e + 15) << 10) | Math.round((Math.abs(v) / 2 ** e - 1) * 1024);
    });
    fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.from(half.buffer));
    const entry = { name: 'Conv1/kernel', shape: [3, 3, 3, 32], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } };
    fs.writeFileSync(path.join(dir, 'weights_manifest.json'), JSON.stringify([{ paths: ['group1-shard1of1.bin'], weights: [entry] }]));
    const w = await readWeightsFile(path.join(dir, 'weights_manifest.json'));
    const t = w.get('Conv1/kernel')!;
    assert.equal(t.dtype, 'float32');
    assert.ok(sameBits(t, values));
    disposeNamedWeights(w);
  });
});

describe('VGG16 weights in the 2016 keras-applications (Keras 1) HDF5 layout', () => {
  let base: tfl.LayersModel;
  before(() => {
    base = vgg16.build();
  });
  after(() => base.dispose());

  it('load exactly, by the Keras-1 names block1_conv1_W_1:0 / _b_1:0', async () => {
    const rng = new Rng(7);
    const layers = base.layers.map((layer) => ({
      name: layer.name,
      weights: layer.weights.map((w) => {
        const kind = w.originalName.endsWith('kernel') ? 'W' : 'b';
        const shape = w.shape as number[];
        return { name: `${layer.name}_${kind}_1:0`, shape, data: randomWeight(rng, shape, 0.1) };
      }),
    }));
    const file = path.join(tmp, 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
    writeKeras1File(file, layers);
    const weights = await readWeightsFile(file);
    assert.ok(weights.has('block1_conv1/kernel') && weights.has('block5_conv3/bias'));
    const report = applyNamedWeights(base, weights, { source: file });
    assert.deepEqual([report.loaded.length, report.missing, report.unused], [26, [], []]);
    const wrong: string[] = [];
    for (const layer of layers) {
      const actual = base.getLayer(layer.name).getWeights();
      layer.weights.forEach((w, i) => {
        if (!sameBits(actual[i], w.data)) wrong.push(w.name);
      });
    }
    assert.deepEqual(wrong, []);
    disposeNamedWeights(weights);
  });

  it('reject a kernel of the wrong shape, naming the layer, and write nothing', async () => {
    const file = path.join(tmp, 'vgg16_wrong_shape.h5');
    const kernel = { name: 'block1_conv1_W_1:0', shape: [3, 3, 3, 32], data: new Float32Array(3 * 3 * 3 * 32).fill(0.5) };
    const bias = { name: 'block1_conv1_b_1:0', shape: [32], data: new Float32Array(32) };
    writeKeras1File(file, [{ name: 'input_1', weights: [] }, { name: 'block1_conv1', weights: [kernel, bias] }]);
    const weights = await readWeightsFile(file);
    const before = base.getLayer('block1_conv1').getWeights()[0].dataSync().slice() as Float32Array;
    assert.throws(
      () => applyNamedWeights(base, weights, { allowMissing: true }),
      expectError('WEIGHTS_INVALID', /layer 'block1_conv1'/, /\[3, 3, 3, 32\]/, /expects \[3, 3, 3, 64\]/),
    );
    assert.ok(sameBits(before, base.getLayer('block1_conv1').getWeights()[0].dataSync() as Float32Array));
    disposeNamedWeights(weights);
  });

  it('reject MobileNetV2 weights, saying what the file looks like', async () => {
    const weights = await readWeightsFile(requireShared(MOBILENET_NOTOP_MANIFEST));
    assert.throws(
      () => applyNamedWeights(base, weights, { source: 'mobilenet.json' }),
      expectError('WEIGHTS_INVALID', /does not fit model 'vgg16'/, /26 of its 26 weights are missing/, /looks like MobileNetV2 weights/),
    );
    assert.throws(() => applyNamedWeights(base, weights, { allowMissing: true }), expectError('WEIGHTS_INVALID', /MobileNetV2/));
    disposeNamedWeights(weights);
  });
});

describe('readWeightsFile errors', () => {
  it('missing file and a folder without a manifest: NOT_FOUND', async () => {
    await assert.rejects(readWeightsFile(path.join(tmp, 'nope.h5')), expectError('NOT_FOUND', /not found/, /nope\.h5/));
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await assert.rejects(readWeightsFile(empty), expectError('NOT_FOUND', /no weights_manifest\.json/));
  });

  it('a JPEG passed as weights', async () => {
    const jpeg = path.join(requireShared(MOBILENET_SAMPLES), 'cat.jpg');
    await assert.rejects(readWeightsFile(jpeg), expectError('WEIGHTS_INVALID', /not a weights file/, /JPEG/));
  });

  it('JSON that is not a manifest', async () => {
    const file = path.join(tmp, 'labels.json');
    fs.writeFileSync(file, JSON.stringify({ classes: ['a', 'b'] }));
    await assert.rejects(readWeightsFile(file), expectError('WEIGHTS_INVALID', /not a TF\.js weights manifest/));
  });

  it('a truncated or missing shard', async () => {
    const dir = path.join(tmp, 'truncated');
    fs.mkdirSync(dir);
    const manifest = path.join(dir, 'weights_manifest.json');
    fs.copyFileSync(requireShared(MOBILENET_NOTOP_MANIFEST), manifest);
    await assert.rejects(readWeightsFile(manifest), expectError('NOT_FOUND', /group1-shard1of1\.bin/));
    const shard = fs.readFileSync(path.join(path.dirname(MOBILENET_NOTOP_MANIFEST), 'group1-shard1of1.bin'));
    fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), shard.subarray(0, 1_000_000));
    await assert.rejects(readWeightsFile(dir), expectError('WEIGHTS_INVALID', /hold 1000000 bytes but the manifest needs 9031936/, /truncated/));
  });

  it('a truncated HDF5 file and an HDF5 file that is not Keras weights', async () => {
    const cut = path.join(tmp, 'cut.h5');
    fs.writeFileSync(cut, fs.readFileSync(requireShared(MOBILENET_NOTOP_H5)).subarray(0, 2_000_000));
    await assert.rejects(readWeightsFile(cut), expectError('WEIGHTS_INVALID', /truncated/, /2000000 bytes but declares 9409304/));
    const other = path.join(tmp, 'table.weights');
    const f = new h5.File(other, 'w');
    f.create_dataset({ name: 'table', data: new Float32Array([1, 2, 3]) });
    f.close();
    await assert.rejects(readWeightsFile(other), expectError('WEIGHTS_INVALID', /HDF5 file but not Keras weights/));
  });
});

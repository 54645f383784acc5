import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../server/src/engine/backend/select';
import { loadDataset, type DatasetItem } from '../../server/src/engine/data/dataset';
import { decodeImage } from '../../server/src/engine/data/decode';
import { getBackbone } from '../../server/src/engine/models/registry';
import { readWeightsFile } from '../../server/src/engine/models/weights';
import { gatherRows, streamFrozenOutputs } from '../../server/src/engine/train/featureStream';
import { tfjsFrozenPart, type FrozenPart } from '../../server/src/engine/train/frozenPart';
import { train } from '../../server/src/engine/train/trainer';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();

test('a pooling + Dense head trained on pooled features matches training on the feature maps', async () => {
  requireShared(CI_TINY);
  const dir = scratch('pooled-head');
  const common = {
    data: CI_TINY, backbone: 'mobilenet_v2' as const, weights: requireShared(MOBILENET_NOTOP_MANIFEST),
    epochs: 4, batchSize: 4, seed: 5, valFraction: 0.25,
  };
  const phases: string[] = [];
  const pooled = await train({ ...common, out: path.join(dir, 'pooled') }, { onEvent: (e) => void (e.kind === 'phase' && phases.push(e.message)) });
  const maps = await train({ ...common, out: path.join(dir, 'maps') }, { headInputs: 'featureMaps' });
  assert.ok(phases.some((m) => m.includes('pooled features')), `the default path keeps pooled features: ${phases.join(' | ')}`);
  assert.equal(pooled.history.length, 4);
  assert.ok(pooled.history[0].valLoss !== null, 'a validation split was used');
  pooled.history.forEach((h, i) => {
    const m = maps.history[i];
    assert.ok(Math.abs(h.loss - m.loss) < 1e-4, `epoch ${i + 1} loss ${h.loss} vs ${m.loss}`);
    assert.ok(Math.abs(h.valLoss! - m.valLoss!) < 1e-4, `epoch ${i + 1} val loss ${h.valLoss} vs ${m.valLoss}`);
    assert.equal(h.accuracy, m.accuracy);
  });
  const a = await readWeightsFile(path.join(pooled.runDir, 'model', 'weights_manifest.json'));
  const b = await readWeightsFile(path.join(maps.runDir, 'model', 'weights_manifest.json'));
  const kernel = 'cxr_predictions/kernel';
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.get(kernel)!, b.get(kernel)!))).dataSync()[0]);
  const moved = tf.tidy(() => tf.max(tf.abs(a.get(kernel)!)).dataSync()[0]);
  assert.ok(moved > 0, 'the head has weights');
  assert.ok(diff < 1e-5, `trained head kernels differ by ${diff}`);
  [...a.values(), ...b.values()].forEach((t) => t.dispose());
});

/** A frozen part that records the tensor memory in use at each call. */
function watched(inner: FrozenPart, peaks: number[]): FrozenPart {
  return {
    ...inner,
    async run(batch, n) {
      const out = await inner.run(batch, n);
      peaks.push(tf.memory().numBytes);
      return out;
    },
  };
}

test('the frozen pass streams: decoded images held stay bounded by two chunks, tensor memory does not grow with the image count, unreadable files are left out', async () => {
  await initBackend();
  const dir = scratch('stream');
  const items = (await loadDataset(requireShared(CI_TINY))).items;
  const broken = path.join(dir, 'broken.png');
  fs.writeFileSync(broken, Buffer.concat([fs.readFileSync(items.find((i) => i.path.endsWith('.png'))!.path).subarray(0, 200)]));
  const many: DatasetItem[] = Array.from({ length: 48 }, (_, k) => items[k % items.length]);
  many.splice(5, 0, { ...items[0], path: broken });

  const spec = getBackbone('mobilenet_v2');
  const model = spec.build({ inputSize: 64 });
  const base = tfjsFrozenPart(model, spec, 64);
  const tensorsBefore = tf.memory().numTensors;
  const peaksSmall: number[] = [];
  const small = await streamFrozenOutputs(many.slice(0, 8), watched(base, peaksSmall), { imageSize: 64, chunk: 4 });
  const peaksLarge: number[] = [];
  const large = await streamFrozenOutputs(many, watched(base, peaksLarge), { imageSize: 64, chunk: 4 });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor outlives the stream');

  assert.equal(large.items.length, 48);
  assert.equal(large.skipped.length, 1);
  assert.match(large.skipped[0], /broken\.png/);
  assert.ok(large.stats.peakImagesHeld <= 8, `at most two chunks of 4 decoded images held, saw ${large.stats.peakImagesHeld}`);
  assert.equal(Math.max(...peaksLarge), Math.max(...peaksSmall), 'tensor memory at 48 images is what it is at 8');
  assert.deepEqual(large.outputShape, [2, 2, 1280]);
  assert.equal(large.outputs.length, 48 * 2 * 2 * 1280, 'outputs are one small row per image');

  // Rows stay with their images across the skipped file: row 10 (after the gap) equals a direct pass on its image.
  const k = 10;
  const direct = await base.run((await decodeImage(large.items[k].path, 64)).data, 1);
  const row = large.outputs.subarray(k * 5120, (k + 1) * 5120);
  let maxDiff = 0;
  direct.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - row[i]))));
  assert.ok(maxDiff < 1e-4, `row ${k} differs from a direct pass by ${maxDiff}`);
  assert.equal(small.items.length, 7);
  model.dispose();
});

test('batches built on the host are the rows tf.gather would pick', async () => {
  await initBackend();
  const rows = 37;
  const rowSize = 12;
  const matrix = Float32Array.from({ length: rows * rowSize }, (_, i) => Math.sin(i));
  const indices = [36, 0, 5, 5, 17, 2];
  const expected = tf.tidy(() => tf.gather(tf.tensor2d(matrix, [rows, rowSize]), indices).dataSync());
  assert.deepEqual(gatherRows(matrix, rowSize, indices), expected);
});

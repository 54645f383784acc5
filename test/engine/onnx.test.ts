import { test } from 'node:test';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../server/src/engine/backend/select';
import { decodeImage } from '../../server/src/engine/data/decode';
import { buildClassifier } from '../../server/src/engine/models/classifier';
import { BACKBONES, getBackbone, type BackboneSpec } from '../../server/src/engine/models/registry';
import { applyNamedWeights, readWeightsFile } from '../../server/src/engine/models/weights';
import { layersToOnnx } from '../../server/src/engine/onnx/fromLayers';
import { ONNX_PREPROCESS } from '../../server/src/engine/onnx/preprocess';
import { CPU_RUN_BATCH, loadOrt, OrtModel } from '../../server/src/engine/onnx/runtime';
import { tfjsFrozenPart } from '../../server/src/engine/train/frozenPart';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';

const IMAGES = ['test/Covid/0102.jpeg', 'test/Normal/0102.jpeg', 'test/Viral Pneumonia/0101.jpeg'];

async function decodedBatch(size: number): Promise<Float32Array> {
  const images = await Promise.all(IMAGES.map(async (f) => (await decodeImage(path.join(requireShared(CI_TINY), f), size)).data));
  const batch = new Float32Array(images.length * size * size * 3);
  images.forEach((img, i) => batch.set(img, i * img.length));
  return batch;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Runs `model` (any layers model of `spec`) on the batch in tfjs and, converted, in ONNX Runtime; returns the largest
 * difference between the two outputs and the tfjs output.
 */
async function onnxParity(model: tfl.LayersModel, spec: BackboneSpec, size: number, batch: Float32Array): Promise<{ diff: number; expected: Float32Array }> {
  const ort = loadOrt()!;
  const expected = await tfjsFrozenPart(model, spec, size).run(batch, IMAGES.length);
  const conversion = await layersToOnnx(model, ONNX_PREPROCESS[spec.id]);
  const session = await OrtModel.create(ort, conversion.bytes, conversion.inputName, conversion.outputNames);
  try {
    const [actual] = await session.run(batch, [IMAGES.length, size, size, 3]);
    return { diff: maxAbsDiff(actual, expected), expected };
  } finally {
    await session.dispose();
  }
}

/** A classifier with a head whose probabilities are not all near one class, so parity means something. */
function spreadHead(model: ReturnType<typeof buildClassifier>, seed: number): void {
  const dense = model.getLayer('cxr_predictions');
  const [kernel, bias] = dense.getWeights();
  dense.setWeights([tf.mul(tf.randomNormal(kernel.shape, 0, 1, 'float32', seed), 0.05), tf.zerosLike(bias)]);
}

test('onnxruntime-node is installed and loads (CI installs it; the engine falls back to tfjs elsewhere)', () => {
  assert.ok(loadOrt(), 'onnxruntime-node must load here');
});

test('the ONNX preprocessing table is each backbone\'s own preprocess', async () => {
  await initBackend();
  const x = tf.randomUniform([1, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  for (const spec of Object.values(BACKBONES)) {
    const p = ONNX_PREPROCESS[spec.id];
    const expected = spec.preprocess(x);
    const ours = tf.tidy(() => tf.sub(tf.mul(tf.gather(x, p.order, 3), p.scale), tf.tensor1d(p.offset)));
    assert.ok(maxAbsDiff(expected.dataSync(), ours.dataSync()) < 1e-4, spec.id);
    tf.dispose([expected, ours]);
  }
  x.dispose();
});

test('MobileNetV2 with ImageNet weights in ONNX Runtime: feature maps and probabilities match tfjs', async () => {
  await initBackend();
  const spec = getBackbone('mobilenet_v2');
  const model = buildClassifier(spec, 3, 224);
  const named = await readWeightsFile(requireShared(MOBILENET_NOTOP_MANIFEST));
  applyNamedWeights(model, named, { ignore: (n) => n.startsWith('cxr_'), allowMissing: false });
  named.forEach((t) => t.dispose());
  spreadHead(model, 1);
  const batch = await decodedBatch(224);

  const probs = await onnxParity(model, spec, 224, batch);
  assert.ok(probs.diff < 1e-4, `probabilities differ by ${probs.diff}`);
  assert.ok(Math.max(...probs.expected) - Math.min(...probs.expected) > 0.1, 'probabilities are spread, so the comparison is not trivial');

  const mapsModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer('out_relu').output as tfl.SymbolicTensor });
  const maps = await onnxParity(mapsModel, spec, 224, batch);
  // Feature maps reach 6 (ReLU6); float32 summation order differs between the engines.
  assert.ok(maps.diff < 5e-4, `feature maps (NHWC, 7x7x1280) differ by ${maps.diff}`);
  model.dispose();
});

test('VGG16 (random weights) with its head in ONNX Runtime: probabilities match tfjs', async () => {
  await initBackend();
  const spec = getBackbone('vgg16');
  const model = buildClassifier(spec, 3, 64);
  spreadHead(model, 2);
  const { diff } = await onnxParity(model, spec, 64, await decodedBatch(64));
  assert.ok(diff < 1e-4, `probabilities differ by ${diff}`);
  model.dispose();
});

test('runImages splits a batch larger than the CPU run size and gives what one run of the whole batch gives', async () => {
  await initBackend();
  const spec = getBackbone('mobilenet_v2');
  const size = 64;
  const model = spec.build({ inputSize: size });
  try {
    const three = await decodedBatch(size);
    // 3 images x 3 = 9: three calls of at most CPU_RUN_BATCH (4), the last one short.
    const n = 3 * IMAGES.length;
    assert.ok(n > CPU_RUN_BATCH && n % CPU_RUN_BATCH !== 0);
    const batch = new Float32Array(n * three.length / IMAGES.length);
    for (let i = 0; i < 3; i++) batch.set(three, i * three.length);
    const conversion = await layersToOnnx(model, ONNX_PREPROCESS[spec.id]);
    const session = await OrtModel.create(loadOrt()!, conversion.bytes, conversion.inputName, conversion.outputNames);
    try {
      const [whole] = await session.run(batch, [n, size, size, 3]);
      const [split] = await session.runImages(batch, [n, size, size, 3]);
      assert.equal(split.length, whole.length);
      assert.ok(maxAbsDiff(split, whole) < 1e-5, `split runs differ by ${maxAbsDiff(split, whole)}`);
      // The copies of one image give the same output wherever they fell.
      const per = whole.length / n;
      assert.ok(maxAbsDiff(split.subarray(0, per), split.subarray(3 * per, 4 * per)) < 1e-5);
    } finally {
      await session.dispose();
    }
  } finally {
    model.dispose();
  }
});

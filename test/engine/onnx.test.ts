import { test } from 'node:test';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../server/src/engine/backend/select';
import { decodeImage } from '../../server/src/engine/data/decode';
import { buildClassifier } from '../../server/src/engine/models/classifier';
import { BACKBONES, getBackbone } from '../../server/src/engine/models/registry';
import { applyNamedWeights, readWeightsFile } from '../../server/src/engine/models/weights';
import { layersToOnnx } from '../../server/src/engine/onnx/fromLayers';
import { ONNX_PREPROCESS } from '../../server/src/engine/onnx/preprocess';
import { loadOrt, OrtModel } from '../../server/src/engine/onnx/runtime';
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
  const ort = loadOrt()!;
  const spec = getBackbone('mobilenet_v2');
  const model = buildClassifier(spec, 3, 224);
  const named = await readWeightsFile(requireShared(MOBILENET_NOTOP_MANIFEST));
  applyNamedWeights(model, named, { ignore: (n) => n.startsWith('cxr_'), allowMissing: false });
  named.forEach((t) => t.dispose());
  spreadHead(model, 1);
  const batch = await decodedBatch(224);

  const expected = await tfjsFrozenPart(model, spec, 224).run(batch, 3);
  const conversion = await layersToOnnx(model, ONNX_PREPROCESS.mobilenet_v2);
  const session = await OrtModel.create(ort, conversion.bytes, conversion.inputName, conversion.outputNames);
  const [probs] = await session.run(batch, [3, 224, 224, 3]);
  const probDiff = maxAbsDiff(probs, expected);
  assert.ok(probDiff < 1e-4, `probabilities differ by ${probDiff}`);
  assert.ok(Math.max(...expected) - Math.min(...expected) > 0.1, 'probabilities are spread, so the comparison is not trivial');

  const mapsModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer('out_relu').output as tfl.SymbolicTensor });
  const maps = await tfjsFrozenPart(mapsModel, spec, 224).run(batch, 3);
  const mapConversion = await layersToOnnx(mapsModel, ONNX_PREPROCESS.mobilenet_v2);
  const mapSession = await OrtModel.create(ort, mapConversion.bytes, mapConversion.inputName, mapConversion.outputNames);
  const [ortMaps] = await mapSession.run(batch, [3, 224, 224, 3]);
  const mapDiff = maxAbsDiff(ortMaps, maps);
  // Feature maps reach 6 (ReLU6); float32 summation order differs between the engines.
  assert.ok(mapDiff < 5e-4, `feature maps (NHWC, 7x7x1280) differ by ${mapDiff}`);
  await Promise.all([session.dispose(), mapSession.dispose()]);
  model.dispose();
});

test('VGG16 (random weights) with its head in ONNX Runtime: probabilities match tfjs', async () => {
  await initBackend();
  const ort = loadOrt()!;
  const spec = getBackbone('vgg16');
  const model = buildClassifier(spec, 3, 64);
  spreadHead(model, 2);
  const batch = await decodedBatch(64);
  const expected = await tfjsFrozenPart(model, spec, 64).run(batch, 3);
  const conversion = await layersToOnnx(model, ONNX_PREPROCESS.vgg16);
  const session = await OrtModel.create(ort, conversion.bytes, conversion.inputName, conversion.outputNames);
  const [probs] = await session.run(batch, [3, 64, 64, 3]);
  const diff = maxAbsDiff(probs, expected);
  assert.ok(diff < 1e-4, `probabilities differ by ${diff}`);
  await session.dispose();
  model.dispose();
});

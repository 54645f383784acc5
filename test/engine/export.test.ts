import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { decodeImage } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const scratch = scratchDirFactory();
const engine = new Engine();
const FILES = ['test/Covid/0102.jpeg', 'test/Normal/0102.jpeg', 'test/Viral Pneumonia/0101.jpeg'].map((f) => path.join(CI_TINY, f));
let runDir = '';

before(async () => {
  const run = await engine.train({
    data: requireShared(CI_TINY), out: path.join(scratch('export'), 'run'), backbone: 'mobilenet_v2',
    weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 3, seed: 2, valFraction: 0,
  });
  runDir = run.runDir;
});

async function decodedBatch(): Promise<Float32Array> {
  const batch = new Float32Array(FILES.length * 224 * 224 * 3);
  for (const [i, f] of FILES.entries()) batch.set((await decodeImage(f, 224)).data, i * 224 * 224 * 3);
  return batch;
}

test('cxr export --format onnx: ONNX Runtime on [0,1] RGB gives the run\'s predictions in class order', async () => {
  const out = path.join(scratch('onnx-out'), 'model.onnx');
  const r = spawnSync(process.execPath, [BIN, 'export', runDir, '--format', 'onnx', '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.deepEqual(result.classes, ['Covid', 'Normal', 'Viral Pneumonia']);
  const session = await ort.InferenceSession.create(fs.readFileSync(out));
  const feeds = { [result.input.name]: new ort.Tensor('float32', await decodedBatch(), [3, 224, 224, 3]) };
  const probs = (await session.run(feeds))[result.outputName].data as Float32Array;
  const expected = await engine.predict({ run: runDir, files: FILES });
  expected.forEach((p, i) => {
    result.classes.forEach((c: string, k: number) => {
      assert.ok(Math.abs(probs[i * 3 + k] - p.probabilities[c]) < 1e-4, `${FILES[i]} ${c}: ${probs[i * 3 + k]} vs ${p.probabilities[c]}`);
    });
  });
  await session.release();
  // The model card travels with the model, with what the export takes and gives.
  assert.equal(result.modelCard, path.join(path.dirname(out), 'model.model-card.md'));
  const card = fs.readFileSync(result.modelCard, 'utf8');
  assert.match(card, /^# Model card: run\n/);
  assert.match(card, /\*\*Research and teaching only\. Not a medical device/);
  assert.match(card, /## Calibration and refusal/);
  assert.match(card, new RegExp(`## This export\\n\\n- ONNX model \`model\\.onnx\`[^\\n]*\\n- Input \`${result.input.name}\` \\[batch, 224, 224, 3\\][^\\n]*\\n- Output \`${result.outputName}\`: probabilities, in class order: Covid, Normal, Viral Pneumonia`));
  const human = spawnSync(process.execPath, [BIN, 'export', runDir, '--format', 'onnx', '--out', out], { encoding: 'utf8' });
  assert.match(human.stdout, new RegExp(`model card: ${result.modelCard.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('cxr export --format tfjs: the saved layers model loads in TF.js and gives the run\'s predictions', async () => {
  const dir = path.join(scratch('tfjs-out'), 'model');
  const result = await engine.export({ run: runDir, format: 'tfjs', out: dir });
  assert.equal(result.path, dir);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const weights = fs.readFileSync(path.join(dir, 'weights.bin'));
  const model = await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: manifest.modelTopology,
    weightSpecs: manifest.weightsManifest[0].weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }));
  const batch = await decodedBatch();
  const out = tf.tidy(() => (model.predict(tf.tensor4d(batch, [3, 224, 224, 3])) as tf.Tensor).dataSync());
  const expected = await engine.predict({ run: runDir, files: FILES });
  expected.forEach((p, i) => {
    result.classes.forEach((c, k) => assert.ok(Math.abs(out[i * 3 + k] - p.probabilities[c]) < 1e-4, `${FILES[i]} ${c}`));
  });
  assert.deepEqual(manifest.userDefinedMetadata.classes, result.classes);
  assert.equal(result.modelCard, path.join(dir, 'MODEL_CARD.md'));
  assert.match(fs.readFileSync(result.modelCard, 'utf8'), /^# Model card: run\n[\s\S]*## This export\n\n- TF\.js layers model `model`/);
  model.dispose();
});

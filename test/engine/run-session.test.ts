import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { createCam } from '../../server/src/engine/explain/cam';
import { loadRunModel } from '../../server/src/engine/inference/runModel';
import { RunSession } from '../../server/src/engine/inference/runSession';
import { stackImages } from '../../server/src/engine/train/tensors';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const engine = new Engine();
let runDir = '';
const IMAGE = path.join(CI_TINY, 'test', 'Normal', '0102.jpeg');

before(async () => {
  const result = await engine.train({
    data: requireShared(CI_TINY), out: path.join(scratch('session'), 'run'), backbone: 'mobilenet_v2',
    weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 3, seed: 11, valFraction: 0,
  });
  runDir = result.runDir;
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('one ONNX Runtime pass gives the probabilities and every class\'s CAM and Grad-CAM that tfjs computes (Grad-CAM with gradients)', async () => {
  const loaded = await loadRunModel(runDir);
  const session = await RunSession.open(loaded);
  assert.equal(session.engine, 'onnxruntime');
  const image = (await decodeImage(IMAGE, 224)).data;
  const all = (await session.explainAll(image))!;
  assert.ok(all, 'a pooling + Dense head has all-class maps');
  const input = tf.tidy(() => loaded.spec.preprocess(stackImages([image], 224)));
  for (const method of ['cam', 'gradcam'] as const) {
    const cam = createCam(method, loaded.model, loaded.spec.featureLayer);
    for (let c = 0; c < 3; c++) {
      const [ref] = await cam.compute(input, [c]);
      assert.ok(maxAbsDiff(all.probabilities, ref.probabilities) < 1e-4, 'probabilities');
      const d = maxAbsDiff(all[method][c].map, ref.map);
      // Maps are normalised to [0, 1]; ONNX Runtime's and tfjs's float32 sums differ in the last digits.
      assert.ok(d < 1e-3, `${method} class ${c}: max difference ${d}`);
      assert.equal(all[method][c].allZero, ref.allZero);
    }
    cam.dispose();
  }
  input.dispose();
  session.dispose();
  loaded.model.dispose();
});

test('engine.explain returns the maps of every class for both methods with the one it was asked for', async () => {
  const res = await engine.explain({ run: runDir, image: IMAGE, method: 'gradcam', className: 'Covid' });
  assert.equal(res.engine, 'onnxruntime');
  assert.deepEqual(res.maps?.map((m) => m.className), ['Covid', 'Normal', 'Viral Pneumonia']);
  assert.deepEqual(res.maps![0].gradcam, res.heatmap.data);
  const asCam = await engine.explain({ run: runDir, image: IMAGE, method: 'cam', className: 'Normal' });
  assert.deepEqual(res.maps![1].cam, asCam.heatmap.data, 'the CAM of another class came with the first reply');
  const predicted = await engine.predict({ run: runDir, files: [IMAGE] });
  assert.ok(Math.abs(predicted[0].probabilities.Normal - res.probabilities.Normal) < 1e-6);
});

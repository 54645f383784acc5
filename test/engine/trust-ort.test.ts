import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { decodeCount } from '../../server/src/engine/data/decode';
import { loadDataset } from '../../server/src/engine/data/dataset';
import { loadRunModel } from '../../server/src/engine/inference/runModel';
import { RunSession } from '../../server/src/engine/inference/runSession';
import { classifyWithFeatures } from '../../server/src/engine/ood/classifyWithFeatures';
import { fitTrustModels } from '../../server/src/engine/ood/fitTrustModels';
import { storedPooledFeatures } from '../../server/src/engine/ood/pooledFeatures';
import { train } from '../../server/src/engine/train/trainer';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
/** Largest |ORT - tfjs| allowed on a pooled feature, relative to the largest feature of the image (measured 9e-6 on ci-tiny at 96 px). */
const FEATURE_TOLERANCE = 1e-4;

async function trainedRun(): Promise<string> {
  process.env.CXR_CACHE_DIR = scratch('trust-ort-cache');
  const out = path.join(scratch('trust-ort'), 'run');
  await train({ data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 2, seed: 5, imageSize: 96, valFraction: 0.2 });
  return out;
}

test('trust and OOD on the ORT session: one pass gives probabilities and pooled features equal to the tfjs model\'s', async () => {
  const loaded = await loadRunModel(await trainedRun());
  const session = await RunSession.open(loaded);
  try {
    assert.equal(session.engine, 'onnxruntime');
    const files = (await loadDataset(CI_TINY)).items.filter((i) => i.split === 'test').map((i) => i.path);
    const ort = await classifyWithFeatures(loaded, files, { session });
    const tfjs = await classifyWithFeatures(loaded, files);
    let worstProb = 0;
    let worstFeature = 0;
    files.forEach((_, i) => {
      const [o, t] = [ort[i]!, tfjs[i]!];
      o.probs.forEach((p, c) => (worstProb = Math.max(worstProb, Math.abs(p - t.probs[c]))));
      assert.equal(o.features.length, 1280);
      const scale = Math.max(...t.features.map(Math.abs));
      assert.ok(scale > 0.1, 'features are not all zero');
      o.features.forEach((f, k) => (worstFeature = Math.max(worstFeature, Math.abs(f - t.features[k]) / scale)));
      assert.deepEqual(o.check, t.check, 'the chest check sees the same decoded image');
    });
    console.log(`ORT vs tfjs: probabilities ${worstProb.toExponential(2)}, pooled features ${worstFeature.toExponential(2)} of the largest`);
    assert.ok(worstProb <= 1e-4, `probabilities differ by ${worstProb}`);
    assert.ok(worstFeature <= FEATURE_TOLERANCE, `pooled features differ by ${worstFeature} of their largest value`);
  } finally {
    session.dispose();
    delete process.env.CXR_CACHE_DIR;
  }
});

test('trust fit after training reuses the stored pooled features: no image decoded, same OOD model and temperature', async () => {
  const run = await trainedRun();
  try {
    const loaded = await loadRunModel(run);
    const before = decodeCount();
    const fromCache = await fitTrustModels(loaded, { stored: storedPooledFeatures(loaded) });
    assert.equal(decodeCount() - before, 0, 'every training and validation image had stored features');
    const decoded = await fitTrustModels(loaded);
    const { train: nTrain, val: nVal } = loaded.config.split;
    assert.equal(decodeCount() - before, nTrain + nVal, 'without stored features every image is decoded again');
    assert.equal(fromCache.ood.n, decoded.ood.n);
    assert.ok(Math.abs(fromCache.ood.threshold - decoded.ood.threshold) <= 1e-4, `${fromCache.ood.threshold} vs ${decoded.ood.threshold}`);
    assert.ok(Math.abs(fromCache.calibration.temperature - decoded.calibration.temperature) <= 1e-3, `${fromCache.calibration.temperature} vs ${decoded.calibration.temperature}`);
    let worst = 0;
    fromCache.ood.train.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - decoded.ood.train[i]))));
    console.log(`stored vs recomputed: threshold ${fromCache.ood.threshold} / ${decoded.ood.threshold}, temperature ${fromCache.calibration.temperature} / ${decoded.calibration.temperature}, features ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `normalised training features differ by ${worst}`);
  } finally {
    delete process.env.CXR_CACHE_DIR;
  }
});

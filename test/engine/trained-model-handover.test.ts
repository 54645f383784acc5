/**
 * A training whose last epoch saved the best model hands that model to the engine (no second build and load for the
 * trust fit and the next prediction); one whose best epoch came earlier does not, and the engine loads the best
 * model from the run folder. Either way the predictions are exactly those of a model loaded from disk.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainRequest } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { train } from '../../server/src/engine/train/trainer';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';

const scratch = scratchDirFactory();
const IMAGE = 'test/Covid/0105.png';

function request(out: string, extra: Partial<TrainRequest> = {}): TrainRequest {
  return {
    data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST),
    epochs: 3, batchSize: 4, seed: 5, imageSize: 96, ...extra,
  };
}

describe('the trained model handed over to the engine', () => {
  it('is taken when the last epoch saved the best model, and predicts exactly as the model read back from disk', async () => {
    const out = path.join(scratch('handover'), 'run');
    const logs: string[] = [];
    const engine = new Engine({ log: (m) => logs.push(m) });
    const result = await engine.train(request(out, { valFraction: 0, learningRate: 1e-3 }));
    assert.equal(result.bestEpoch, 3, 'with a small learning rate and no validation split the training loss fell every epoch');
    assert.ok(!logs.some((l) => l.startsWith('Loaded model of')), `the engine did not load the run again: ${logs.join(' | ')}`);
    const image = path.join(requireShared(CI_TINY), IMAGE);
    const [handed] = await engine.predict({ run: out, files: [image] });
    const [fromDisk] = await new Engine().predict({ run: out, files: [image] });
    assert.deepEqual(handed.probabilities, fromDisk.probabilities);
  });

  it('is not handed over when an earlier epoch was the best; the engine then loads the best model', async () => {
    const dir = scratch('no-handover');
    // A learning rate far too high makes the validation loss jump about: the last epoch is not the best one.
    const req = request(path.join(dir, 'run'), { valFraction: 0.34, learningRate: 3, epochs: 5 });
    let handedOver = false;
    const direct = await train(req, { adoptModel: (model) => ((handedOver = true), model.dispose()) });
    assert.ok(direct.bestEpoch !== null && direct.bestEpoch < direct.epochsRun, `best epoch ${direct.bestEpoch} of ${direct.epochsRun}`);
    assert.equal(handedOver, false, 'a model whose weights are not the best model\'s was handed over');

    const logs: string[] = [];
    const engine = new Engine({ log: (m) => logs.push(m) });
    const out = path.join(dir, 'run-engine');
    await engine.train({ ...req, out });
    assert.ok(logs.some((l) => l === `Loaded model of ${out}`), `the engine loaded the best model: ${logs.join(' | ')}`);
    const image = path.join(requireShared(CI_TINY), IMAGE);
    const [after] = await engine.predict({ run: out, files: [image] });
    const [fromDisk] = await new Engine().predict({ run: out, files: [image] });
    assert.deepEqual(after.probabilities, fromDisk.probabilities);
  });
});

/**
 * Training steps of trainable convolutions on ONNX Runtime (train/ortTrainStep.ts, onnx/trainingGraph.ts) give the
 * training maths of the tfjs steps: the same loss and gradients for a batch, the same loss curve for the same seed
 * through the real trainer (VGG16 with the method's recipe: blocks 4-5 and the head train, augmentation), and a
 * cancel mid-epoch still stops the run. Random weights and small inputs keep it fast; the layers are VGG16's.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainEvent, TrainRequest } from '../../server/src/engine/api';
import { initBackend } from '../../server/src/engine/backend/select';
import { buildClassifier } from '../../server/src/engine/models/classifier';
import { getBackbone } from '../../server/src/engine/models/registry';
import { splitModelAt } from '../../server/src/engine/models/split';
import { trainableChain } from '../../server/src/engine/onnx/trainingGraph';
import { createOrtSteps } from '../../server/src/engine/train/ortTrainStep';
import { categoricalCrossEntropy, oneHot } from '../../server/src/engine/train/tensors';
import { saveModel } from '../../server/src/engine/train/runFolder';
import { train } from '../../server/src/engine/train/trainer';
import { Rng } from '../../server/src/engine/util/rng';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, requireShared } from '../helpers/shared';
import { randomWeight, relativeError } from '../helpers/weightAsserts';

const scratch = scratchDirFactory();

describe('training steps on ONNX Runtime', () => {
  before(async () => {
    await initBackend();
  });

  it('give the loss and gradients of the tfjs step for VGG16 blocks 4-5 + head (17 images: two ONNX calls summed; 48 px: block5_pool drops a row, as floor pooling does)', async () => {
    const model = buildClassifier(getBackbone('vgg16'), 3, 48);
    const rng = new Rng(9);
    // Seeded Glorot-uniform kernels and zero biases: the layers' own initialisers are unseeded, and with new weights each
    // run a pre-activation now and then lands within rounding of a ReLU's zero, where the two engines may differ.
    for (const v of model.weights) {
      const shape = v.shape as number[];
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const bound = shape.length > 1 ? Math.sqrt(6 / (receptive * (shape[shape.length - 2] + shape[shape.length - 1]))) : 0;
      v.write(tf.tensor(bound > 0 ? randomWeight(rng, shape, bound) : new Float32Array(shape.reduce((a, b) => a * b, 1)), shape));
    }
    const cut = splitModelAt(model, 'block3_pool');
    const steps = await createOrtSteps(cut.after);
    assert.ok(!('reason' in steps), `ONNX Runtime steps unavailable: ${'reason' in steps ? steps.reason : ''}`);
    const n = 17;
    const [h, w, c] = cut.after.inputs[0].shape.slice(1) as number[];
    // block3_pool outputs are ReLU outputs: non-negative, many zeros.
    const x = tf.tensor4d(Float32Array.from({ length: n * h * w * c }, () => Math.max(0, rng.uniform(-1, 3))), [n, h, w, c]);
    const y = oneHot(Array.from({ length: n }, (_, i) => i % 3), 3);
    const vars = cut.after.trainableWeights.map((v) => v.read() as tf.Variable);
    const reference = tf.variableGrads(() => categoricalCrossEntropy(y, cut.after.apply(x, { training: true }) as tf.Tensor), vars);
    const ort = await steps.gradients(x, y);
    try {
      const refLoss = (await reference.value.data())[0];
      assert.ok(Math.abs(ort.loss - refLoss) <= 1e-5 * Math.max(1, refLoss), `loss ${ort.loss} vs tfjs ${refLoss}`);
      assert.deepEqual(Object.keys(ort.grads).sort(), Object.keys(reference.grads).sort());
      for (const [name, g] of Object.entries(reference.grads)) {
        const err = relativeError((await ort.grads[name].data()) as Float32Array, (await g.data()) as Float32Array);
        assert.ok(err < 1e-4, `${name}: relative error ${err}`);
      }
    } finally {
      tf.dispose([x, y, reference.value, ...Object.values(reference.grads), ...Object.values(ort.grads)]);
      await steps.dispose();
      cut.after.dispose();
      model.dispose();
    }
  });

  it('trains VGG16 with the recipe to the same loss curve as tfjs steps, validation included', async () => {
    // One set of random weights for both runs (a model without weights starts from unseeded random ones).
    const weightsDir = scratch('vgg16-random-weights');
    const random = buildClassifier(getBackbone('vgg16'), 3, 32);
    await saveModel(weightsDir, random);
    random.dispose();
    const request = (out: string): TrainRequest => ({
      data: requireShared(CI_TINY), out, backbone: 'vgg16', weights: path.join(weightsDir, 'weights_manifest.json'),
      imageSize: 32, epochs: 2, batchSize: 4, valFraction: 0.3, seed: 6,
    });
    const phases = (events: TrainEvent[]) => events.flatMap((e) => (e.kind === 'phase' ? [e.message] : []));
    const ortEvents: TrainEvent[] = [];
    const onOrt = await train(request(path.join(scratch('ort-steps'), 'run')), { onEvent: (e) => ortEvents.push(e) });
    const tfjsEvents: TrainEvent[] = [];
    const onTfjs = await train(request(path.join(scratch('tfjs-steps'), 'run')), { onEvent: (e) => tfjsEvents.push(e), stepEngine: 'tfjs' });
    assert.ok(phases(ortEvents).includes('Training steps run on onnxruntime'), phases(ortEvents).join(' | '));
    assert.ok(!phases(tfjsEvents).some((m) => /Training steps run on/.test(m)), phases(tfjsEvents).join(' | '));
    assert.equal(onOrt.status, 'completed');
    assert.equal(onTfjs.status, 'completed');
    assert.ok(onOrt.history[0].valLoss !== null, 'validation ran');
    for (const [i, h] of onTfjs.history.entries()) {
      const o = onOrt.history[i];
      for (const key of ['loss', 'valLoss'] as const) {
        assert.ok(Math.abs(o[key]! - h[key]!) <= 1e-4 * Math.max(1, h[key]!), `epoch ${i + 1} ${key}: onnxruntime ${o[key]} vs tfjs ${h[key]}`);
      }
    }
  });

  it('stop when cancelled mid-epoch', async () => {
    const abort = new AbortController();
    const events: TrainEvent[] = [];
    const result = await train(
      { data: requireShared(CI_TINY), out: path.join(scratch('ort-cancel'), 'run'), backbone: 'vgg16', imageSize: 32, epochs: 2, batchSize: 2, valFraction: 0, seed: 2 },
      {
        signal: abort.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.kind === 'batch' && e.batch === 2) abort.abort();
        },
      },
    );
    assert.ok(events.some((e) => e.kind === 'phase' && e.message === 'Training steps run on onnxruntime'));
    assert.equal(result.status, 'cancelled');
    assert.equal(result.epochsRun, 0);
    assert.equal(events.filter((e) => e.kind === 'batch').length, 2, 'no batch ran after the cancel');
  });

  it('leave a trainable part they do not cover to tfjs, saying why', () => {
    const model = buildClassifier(getBackbone('mobilenet_v2'), 3, 96);
    const cut = splitModelAt(model, 'block_15_add');
    try {
      const chain = trainableChain(cut.after);
      assert.ok('reason' in chain);
      assert.match(chain.reason, /'block_16_expand_BN' \(BatchNormalization\)/);
    } finally {
      cut.after.dispose();
      model.dispose();
    }
  });
});

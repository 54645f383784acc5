/**
 * The method's head (Dense softmax on pooled features) steps in plain arithmetic (train/denseHeadSteps.ts): the same
 * loss, rows right, gradients and trajectory as tfjs's autodiff through the clipped cross-entropy, including a
 * saturated softmax where the clip passes no gradient; any other trainable part is left to tfjs.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../server/src/engine/backend/select';
import { denseHeadSteps, denseSoftmaxGradients } from '../../server/src/engine/train/denseHeadSteps';
import type { TrainSteps } from '../../server/src/engine/train/trainSteps';
import { categoricalCrossEntropy, countCorrect, oneHot } from '../../server/src/engine/train/tensors';
import { Rng } from '../../server/src/engine/util/rng';

const INPUTS = 40;
const CLASSES = 3;

function head(name: string, activation: 'softmax' | 'relu' = 'softmax'): tfl.LayersModel {
  const input = tfl.input({ shape: [INPUTS] });
  const out = tfl.layers.dense({ units: CLASSES, activation, name }).apply(input) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** Seeded non-negative features (like pooled ReLU6 outputs) and labels. */
function batch(rng: Rng, rows: number, scale = 1): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const labels = Array.from({ length: rows }, () => Math.floor(rng.next() * CLASSES));
  const x = tf.tensor2d(Float32Array.from({ length: rows * INPUTS }, () => Math.max(0, rng.next() - 0.2) * scale), [rows, INPUTS]);
  return { x, y: oneHot(labels, CLASSES), labels };
}

/** tfjs's own step, as the trainer takes it: autodiff of the clipped cross-entropy, then the optimizer. */
async function tfjsStep(model: tfl.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): Promise<{ loss: number; correct: number }> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let probs: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(x, { training: true }) as tf.Tensor;
    probs = tf.keep(p);
    return categoricalCrossEntropy(y, p);
  }, vars);
  const loss = (await value.data())[0];
  const correct = await countCorrect(y, probs!);
  optimizer.applyGradients(grads);
  tf.dispose([value, probs!, ...Object.values(grads)]);
  return { loss, correct };
}

function sameStart(a: tfl.LayersModel, b: tfl.LayersModel, rng: Rng, scale: number): void {
  const weights = a.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => (rng.next() - 0.5) * scale), w.shape));
  a.setWeights(weights);
  b.setWeights(weights);
  tf.dispose(weights);
}

describe('Dense head steps in plain arithmetic', () => {
  before(async () => {
    await initBackend();
  });

  it('follow tfjs autodiff and its momentum optimizer step by step, loss, rows right and weights', async () => {
    const rng = new Rng(3);
    const viaTfjs = head('a');
    const viaHost = head('b');
    sameStart(viaTfjs, viaHost, rng, 0.2);
    const made = denseHeadSteps(viaHost);
    assert.ok(made, 'a plain Dense softmax head gets host steps');
    const steps: TrainSteps = made;
    const optA = tf.train.momentum(3e-3 * 20, 0.9);
    const optB = tf.train.momentum(3e-3 * 20, 0.9);
    for (let s = 0; s < 40; s++) {
      const { x, y } = batch(rng, s % 5 === 4 ? 7 : 16);
      const a = await tfjsStep(viaTfjs, optA, x, y);
      const b = await steps.step(x, y, optB);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `step ${s}: loss ${a.loss} (tfjs) vs ${b.loss}`);
      assert.equal(b.correct, a.correct, `step ${s}: rows right`);
      const evalA = categoricalCrossEntropy(y, viaTfjs.predict(x) as tf.Tensor);
      const evalB = await steps.evaluate(x, y);
      assert.ok(Math.abs((await evalA.data())[0] - evalB.loss) < 1e-5, `step ${s}: evaluation loss`);
      tf.dispose([x, y, evalA]);
    }
    const [ka, kb] = [viaTfjs.getWeights()[0].dataSync(), viaHost.getWeights()[0].dataSync()];
    const moved = Math.max(...ka.map((v, i) => Math.abs(v - kb[i])));
    assert.ok(moved < 1e-5, `kernels after 40 steps differ by ${moved}`);
    [optA, optB, viaTfjs, viaHost].forEach((d) => d.dispose());
  });

  it('passes no gradient through a clipped probability, as tfjs does (a saturated softmax)', async () => {
    const rng = new Rng(9);
    const model = head('c');
    sameStart(model, head('c2'), rng, 6);
    const { x, y } = batch(rng, 12, 20);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => categoricalCrossEntropy(y, model.apply(x) as tf.Tensor), vars);
    const probs = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    assert.ok(probs.some((p) => p > 1 - 1e-7 || p < 1e-7), 'some probabilities are clipped');
    const host = denseSoftmaxGradients({
      x: x.dataSync() as Float32Array, y: y.dataSync() as Float32Array,
      kernel: vars[0].dataSync() as Float32Array, bias: vars[1].dataSync() as Float32Array,
      rows: 12, inputs: INPUTS, classes: CLASSES,
    });
    const close = (expected: Float32Array, got: Float32Array, what: string) => {
      const scale = Math.max(1e-6, ...expected.map(Math.abs));
      expected.forEach((e, i) => assert.ok(Math.abs(e - got[i]) <= 1e-4 * scale, `${what}[${i}]: ${e} (tfjs) vs ${got[i]}`));
    };
    close(grads[vars[0].name].dataSync() as Float32Array, host.kernelGrad, 'kernel gradient');
    close(grads[vars[1].name].dataSync() as Float32Array, host.biasGrad, 'bias gradient');
    assert.ok(Math.abs((await value.data())[0] - host.result.loss) < 1e-4 * Math.max(1, host.result.loss), `loss ${host.result.loss}`);
    tf.dispose([x, y, value, ...Object.values(grads)]);
    model.dispose();
  });

  it('leaves any other trainable part to tfjs', () => {
    const relu = head('d', 'relu');
    assert.equal(denseHeadSteps(relu), null, 'a Dense without softmax');
    const input = tfl.input({ shape: [INPUTS] });
    const hidden = tfl.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const twoLayers = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: CLASSES, activation: 'softmax' }).apply(hidden) as tfl.SymbolicTensor });
    assert.equal(denseHeadSteps(twoLayers), null, 'two Dense layers');
    const regularised = tfl.model({
      inputs: input,
      outputs: tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelRegularizer: tfl.regularizers.l2({ l2: 0.01 }) }).apply(input) as tfl.SymbolicTensor,
    });
    assert.equal(denseHeadSteps(regularised), null, 'a kernel regulariser');
    [relu, twoLayers, regularised].forEach((m) => m.dispose());
  });
});

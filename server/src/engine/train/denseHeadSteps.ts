import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { countCorrectRows, type StepResult, type TrainSteps } from './trainSteps';

/** The probability clip of the loss (train/tensors.ts categoricalCrossEntropy, Keras's epsilon), as the float32 bounds tfjs clips to. */
const CLIP_MIN = Math.fround(1e-7);
const CLIP_MAX = Math.fround(1 - 1e-7);

/**
 * Steps of a Dense softmax layer trained on pooled features, the method's head, in plain arithmetic: the head is a
 * 1280 x 3 matrix, and tfjs spent about 5 ms a step dispatching the few dozen small ops of its forward pass, autodiff
 * and loss (0.6 s of the reference training's 0.8 s head phase); here a 32-image step is a few hundred microseconds.
 * The gradient is the one tfjs's autodiff takes through the clipped cross-entropy: a probability outside
 * [1e-7, 1 - 1e-7] passes no gradient (clipByValue), and softmax's backward is p * (g - sum(g * p)). Sums are taken
 * in double precision; the tfjs optimizer then applies the gradients to the layer's own variables.
 * Null when the trainable part is anything else (another head, regularisers, constraints): those keep tfjs steps.
 */
export function denseHeadSteps(after: tfl.LayersModel): TrainSteps | null {
  const layers = after.layers.filter((l) => l.getClassName() !== 'InputLayer');
  if (layers.length !== 1 || layers[0].getClassName() !== 'Dense') return null;
  const dense = layers[0];
  const config = dense.getConfig();
  const plain =
    config.activation === 'softmax' &&
    config.useBias === true &&
    ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'].every((k) => config[k] == null);
  const inputShape = after.inputs[0].shape;
  if (!plain || inputShape.length !== 2 || dense.trainableWeights.length !== 2) return null;
  const [kernel, bias] = dense.trainableWeights.map((w) => w.read() as tf.Variable);
  if (kernel.shape.length !== 2 || bias.shape.length !== 1 || kernel.shape[1] !== bias.shape[0]) return null;
  return new DenseHeadSteps(kernel, bias);
}

class DenseHeadSteps implements TrainSteps {
  constructor(
    private readonly kernel: tf.Variable,
    private readonly bias: tf.Variable,
  ) {}

  async step(x: tf.Tensor, y: tf.Tensor, optimizer: tf.Optimizer): Promise<StepResult> {
    const batch = await this.read(x, y);
    const { result, kernelGrad, biasGrad } = denseSoftmaxGradients(batch);
    const grads = {
      [this.kernel.name]: tf.tensor(kernelGrad, this.kernel.shape),
      [this.bias.name]: tf.tensor(biasGrad, this.bias.shape),
    };
    try {
      optimizer.applyGradients(grads);
    } finally {
      tf.dispose(Object.values(grads));
    }
    return result;
  }

  async evaluate(x: tf.Tensor, y: tf.Tensor): Promise<StepResult> {
    const batch = await this.read(x, y);
    const probs = denseSoftmax(batch);
    return { loss: meanLoss(probs, batch.y, batch.classes), correct: countCorrectRows(batch.y, probs, batch.classes) };
  }

  async dispose(): Promise<void> {}

  private async read(x: tf.Tensor, y: tf.Tensor): Promise<DenseBatch> {
    const [xs, ys, w, b] = (await Promise.all([x.data(), y.data(), this.kernel.data(), this.bias.data()])) as Float32Array[];
    return { x: xs, y: ys, kernel: w, bias: b, rows: x.shape[0], inputs: this.kernel.shape[0], classes: b.length };
  }
}

/** A batch of pooled features with one-hot labels, and the head's current weights (kernel inputs x classes, row-major). */
export interface DenseBatch {
  x: Float32Array;
  y: Float32Array;
  kernel: Float32Array;
  bias: Float32Array;
  rows: number;
  inputs: number;
  classes: number;
}

/** The kernel class by class (classes x inputs): each class's weights in one run, for the inner loops below. */
function byClass(kernel: Float32Array, inputs: number, classes: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let k = 0; k < inputs; k++) for (let c = 0; c < classes; c++) out[c * inputs + k] = kernel[k * classes + c];
  return out;
}

/** softmax(x W + b), rows x classes, in float32 like the tensors it stands for. */
function denseSoftmax(b: DenseBatch): Float32Array {
  const { rows, inputs, classes } = b;
  const w = byClass(b.kernel, inputs, classes);
  const probs = new Float32Array(rows * classes);
  const z = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    const xo = r * inputs;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      const wo = c * inputs;
      let sum = 0;
      for (let k = 0; k < inputs; k++) sum += b.x[xo + k] * w[wo + k];
      z[c] = Math.fround(sum + b.bias[c]);
      max = Math.max(max, z[c]);
    }
    let total = 0;
    for (let c = 0; c < classes; c++) total += (z[c] = Math.exp(z[c] - max));
    for (let c = 0; c < classes; c++) probs[r * classes + c] = z[c] / total;
  }
  return probs;
}

/** Mean clipped categorical cross-entropy of `probs` against one-hot `y`. */
function meanLoss(probs: Float32Array, y: Float32Array, classes: number): number {
  const rows = probs.length / classes;
  let total = 0;
  for (let i = 0; i < probs.length; i++) if (y[i] !== 0) total -= y[i] * Math.log(Math.min(CLIP_MAX, Math.max(CLIP_MIN, probs[i])));
  return Math.fround(total / rows);
}

/** The mean loss, the rows right, and the loss's gradient for the kernel and the bias (float32, the variables' shapes). */
export function denseSoftmaxGradients(b: DenseBatch): { result: StepResult; kernelGrad: Float32Array; biasGrad: Float32Array } {
  const { rows, inputs, classes } = b;
  const probs = denseSoftmax(b);
  const gradByClass = new Float64Array(inputs * classes);
  const biasGrad = new Float64Array(classes);
  const dz = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    // d(loss)/dp through the clip, then softmax's backward: dz = p * (g - sum(g * p)).
    let gp = 0;
    for (let c = 0; c < classes; c++) {
      const p = probs[r * classes + c];
      const yc = b.y[r * classes + c];
      const inRange = p >= CLIP_MIN && p <= CLIP_MAX;
      const g = inRange && yc !== 0 ? -yc / p / rows : 0;
      dz[c] = g;
      gp += g * p;
    }
    const xo = r * inputs;
    for (let c = 0; c < classes; c++) {
      const d = probs[r * classes + c] * (dz[c] - gp);
      biasGrad[c] += d;
      const go = c * inputs;
      for (let k = 0; k < inputs; k++) gradByClass[go + k] += b.x[xo + k] * d;
    }
  }
  const kernelGrad = new Float32Array(inputs * classes);
  for (let k = 0; k < inputs; k++) for (let c = 0; c < classes; c++) kernelGrad[k * classes + c] = gradByClass[c * inputs + k];
  return {
    result: { loss: meanLoss(probs, b.y, classes), correct: countCorrectRows(b.y, probs, classes) },
    kernelGrad,
    biasGrad: Float32Array.from(biasGrad),
  };
}

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type * as ortTypes from 'onnxruntime-node';
import { loadOrt, ortSessionOptions, ortStatus } from '../onnx/runtime';
import { countCorrectRows, type StepResult, type TrainSteps } from './trainSteps';
import { buildTrainingGraph, trainableChain, TRAIN_LOSS, TRAIN_PROBS, TRAIN_X, TRAIN_Y, type TrainingGraph } from '../onnx/trainingGraph';

/** Images per ONNX Runtime call: a larger batch sums its gradients over calls, so memory stays bounded. */
const ORT_MICRO_BATCH = 16;

/**
 * Training steps of a trainable part on ONNX Runtime: the forward pass and the gradients come from an ONNX graph
 * written from the layers (onnx/trainingGraph.ts), fed the current weights each step.
 */
export interface OrtSteps extends TrainSteps {
  /** The mean loss's gradient for each trainable variable, by variable name (tensors the caller disposes). */
  gradients(x: tf.Tensor, y: tf.Tensor): Promise<StepResult & { grads: tf.NamedTensorMap }>;
}

type Ort = typeof ortTypes;

/** ONNX Runtime steps for `after`, or why they cannot run (ONNX Runtime missing, a layer the writer does not cover). */
export async function createOrtSteps(after: tfl.LayersModel): Promise<OrtSteps | { reason: string }> {
  const ort = loadOrt();
  if (!ort) return { reason: ortStatus().reason ?? 'ONNX Runtime is not available' };
  const chain = trainableChain(after);
  if ('reason' in chain) return chain;
  const training = buildTrainingGraph(after, chain.layers);
  const inference = buildTrainingGraph(after, chain.layers, { forwardOnly: true });
  const [trainSession, evalSession] = await Promise.all([session(ort, training.bytes), session(ort, inference.bytes)]);
  return new OrtStepRunner(ort, training, trainSession, evalSession);
}

function session(ort: Ort, bytes: Uint8Array): Promise<ortTypes.InferenceSession> {
  return ort.InferenceSession.create(bytes, ortSessionOptions(['cpu']));
}

class OrtStepRunner implements OrtSteps {
  constructor(
    private readonly ort: Ort,
    private readonly graph: TrainingGraph,
    private readonly trainSession: ortTypes.InferenceSession,
    private readonly evalSession: ortTypes.InferenceSession,
  ) {}

  async step(x: tf.Tensor, y: tf.Tensor, optimizer: tf.Optimizer): Promise<StepResult> {
    const { grads, ...result } = await this.gradients(x, y);
    try {
      optimizer.applyGradients(grads);
    } finally {
      tf.dispose(Object.values(grads));
    }
    return result;
  }

  async gradients(x: tf.Tensor, y: tf.Tensor): Promise<StepResult & { grads: tf.NamedTensorMap }> {
    const trained = this.graph.weights.filter((w) => w.gradient !== null);
    const sums = trained.map((w) => new Float32Array(w.variable.shape.reduce((a: number, b) => a * b!, 1)));
    const result = await this.run(this.trainSession, x, y, (out, share) => {
      trained.forEach((w, k) => {
        const g = out[w.gradient!].data as Float32Array;
        const sum = sums[k];
        if (share === 1) sum.set(g);
        else for (let i = 0; i < g.length; i++) sum[i] += g[i] * share;
      });
    });
    const grads: tf.NamedTensorMap = {};
    trained.forEach((w, k) => (grads[(w.variable.read() as tf.Variable).name] = tf.tensor(sums[k], w.variable.shape as number[])));
    return { ...result, grads };
  }

  evaluate(x: tf.Tensor, y: tf.Tensor): Promise<StepResult> {
    return this.run(this.evalSession, x, y);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.trainSession.release(), this.evalSession.release()]);
  }

  /** Runs the batch in calls of at most ORT_MICRO_BATCH images; `onOutputs` gets each call's outputs and its share of the batch. */
  private async run(
    session: ortTypes.InferenceSession,
    x: tf.Tensor,
    y: tf.Tensor,
    onOutputs?: (out: ortTypes.InferenceSession.OnnxValueMapType, share: number) => void,
  ): Promise<StepResult> {
    const [xs, ys] = (await Promise.all([x.data(), y.data()])) as Float32Array[];
    const weightFeeds: Record<string, ortTypes.Tensor> = {};
    const values = await Promise.all(this.graph.weights.map((w) => w.variable.read().data() as Promise<Float32Array>));
    this.graph.weights.forEach((w, k) => (weightFeeds[w.input] = new this.ort.Tensor('float32', values[k], w.variable.shape as number[])));
    const n = x.shape[0];
    const rowX = xs.length / n;
    const classes = ys.length / n;
    let loss = 0;
    let correct = 0;
    for (let start = 0; start < n; start += ORT_MICRO_BATCH) {
      const size = Math.min(ORT_MICRO_BATCH, n - start);
      const part = (data: Float32Array, row: number) => (size === n ? data : data.slice(start * row, (start + size) * row));
      const yPart = part(ys, classes);
      const out = await session.run({
        ...weightFeeds,
        [TRAIN_X]: new this.ort.Tensor('float32', part(xs, rowX), [size, ...x.shape.slice(1)]),
        [TRAIN_Y]: new this.ort.Tensor('float32', yPart, [size, classes]),
      });
      loss += (out[TRAIN_LOSS].data as Float32Array)[0] * size;
      correct += countCorrectRows(yPart, out[TRAIN_PROBS].data as Float32Array, classes);
      onOutputs?.(out, size / n);
    }
    return { loss: loss / n, correct };
  }
}

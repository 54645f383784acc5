import type * as tf from '@tensorflow/tfjs-core';

/** A training step's or a validation batch's mean loss and the rows it got right. */
export interface StepResult {
  /** Mean loss over the batch. */
  loss: number;
  correct: number;
}

/**
 * Training steps of the trainable part run by something other than tfjs's autodiff (ONNX Runtime, or plain
 * arithmetic for a Dense head): the gradients are computed there, and the tfjs optimizer applies them to the model's
 * own variables, so checkpoints, momentum slots and resuming stay those of the tfjs path.
 */
export interface TrainSteps {
  step(x: tf.Tensor, y: tf.Tensor, optimizer: tf.Optimizer): Promise<StepResult>;
  /** Loss and correct count in inference mode (validation). */
  evaluate(x: tf.Tensor, y: tf.Tensor): Promise<StepResult>;
  dispose(): Promise<void>;
}

/** Rows whose largest probability is at the label's one (first maximum on ties, as tf.argMax). */
export function countCorrectRows(oneHot: Float32Array, probs: Float32Array, classes: number): number {
  let correct = 0;
  for (let r = 0; r < probs.length / classes; r++) {
    const argmax = (a: Float32Array) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (a[r * classes + c] > a[r * classes + best]) best = c;
      return best;
    };
    if (argmax(oneHot) === argmax(probs)) correct++;
  }
  return correct;
}

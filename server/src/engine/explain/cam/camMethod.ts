import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../../errors';
import { splitModelAt } from '../../models/split';
import { reluMaxNormalise, type NormalisedMap } from './normalise';
import { argMax } from '../../util/argMax';

export interface CamOutput {
  /** Row-major heatmap at the feature map's resolution, in [0, 1]. */
  map: Float32Array;
  width: number;
  height: number;
  /** Class index the map explains. */
  target: number;
  /** The model's output probabilities for this image. */
  probabilities: number[];
  /** True when the map carries no spatial information (nothing positive for Grad-CAM, a flat map for CAM); `map` is then all zeros. */
  allZero: boolean;
}

/**
 * The pipeline every class-activation method shares (after jacobgil/pytorch-grad-cam's BaseCAM): run the model once
 * to get the feature map A and the probabilities, ask the method for one weight per channel, form sum_k w_k A_k and
 * normalise it. A method overrides `channelWeights` (and, where its paper says so, `normalise`).
 */
export abstract class CamMethod {
  /** input -> [feature map, probabilities], in one pass. */
  private readonly forward: tfl.LayersModel;
  /** feature map -> model output; shares its layers (and weights) with the model. */
  protected readonly head: tfl.LayersModel;
  private disposed = false;

  constructor(
    protected readonly model: tfl.LayersModel,
    protected readonly featureLayer: string,
  ) {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new CxrError('MODEL_INVALID', `Class activation maps need a single-input, single-output model; '${model.name}' has ` +
        `${model.inputs.length} inputs and ${model.outputs.length} outputs.`);
    }
    const outputShape = model.outputs[0].shape;
    if (outputShape.length !== 2) {
      throw new CxrError('MODEL_INVALID', `Class activation maps need a (batch, classes) output; '${model.name}' outputs shape ` +
        `[${outputShape.join(', ')}].`);
    }
    const split = splitModelAt(model, featureLayer);
    const features = split.before.outputs[0];
    if (features.shape.length !== 4) {
      throw new CxrError('INVALID_ARGUMENT', `Layer '${featureLayer}' outputs shape [${features.shape.join(', ')}]; a class ` +
        'activation map needs a (batch, height, width, channels) feature map. Choose a convolutional (or pooling) layer, ' +
        'usually the last one before global pooling.');
    }
    this.forward = tfl.model({ inputs: model.inputs, outputs: [features, model.outputs[0]], name: `${model.name}_cam_forward` });
    this.head = split.after;
  }

  /**
   * input: a preprocessed NHWC batch. Returns one map per image; `targets[i]` (default: the predicted class) picks the
   * class to explain. Results are read back asynchronously: a synchronous read stalls the backend thread on a GPU
   * backend, and webgpu has none at all in Node.
   */
  async compute(input: tf.Tensor4D, targets?: (number | undefined)[]): Promise<CamOutput[]> {
    if (this.disposed) throw new CxrError('INTERNAL', 'This CAM explainer was disposed; create a new one with createCam.');
    this.checkInput(input);
    const batch = input.shape[0];
    if (targets && targets.length > batch) {
      throw new CxrError('INVALID_ARGUMENT', `Got ${targets.length} targets for a batch of ${batch} images.`);
    }
    const [features, probs] = this.forward.predict(input) as [tf.Tensor4D, tf.Tensor2D];
    try {
      const probabilities = (await probs.array()) as number[][];
      const [, height, width, channels] = features.shape;
      const outputs: CamOutput[] = [];
      for (const [i, p] of probabilities.entries()) {
        const target = targets?.[i] ?? argMax(p);
        if (!Number.isInteger(target) || target < 0 || target >= p.length) {
          throw new CxrError('INVALID_ARGUMENT', `Target class ${target} is not a class index in 0..${p.length - 1}.`);
        }
        const rawTensor = tf.tidy(() => {
          const weights = this.channelWeights(features, target, i);
          const a = tf.reshape(tf.slice(features, [i, 0, 0, 0], [1, height, width, channels]), [height * width, channels]);
          return tf.reshape(tf.matMul(a, tf.reshape(weights, [channels, 1])), [height * width]);
        });
        let raw: Float32Array;
        try {
          raw = (await rawTensor.data()) as Float32Array;
        } finally {
          rawTensor.dispose();
        }
        if (raw.some((v) => !Number.isFinite(v))) {
          throw new CxrError('INTERNAL', `The ${this.constructor.name} map for image ${i} has non-finite values; the model output is broken (NaN weights?).`);
        }
        const { map, allZero } = this.normalise(raw);
        outputs.push({ map, width, height, target, probabilities: p, allZero });
      }
      return outputs;
    } finally {
      features.dispose();
      probs.dispose();
    }
  }

  /** One weight per feature channel for explaining `target` on image `imageIndex` of the batch `features`. */
  protected abstract channelWeights(features: tf.Tensor4D, target: number, imageIndex: number): tf.Tensor1D;

  /** Grad-CAM's ReLU-then-max (see reluMaxNormalise). */
  protected normalise(raw: Float32Array): NormalisedMap {
    return reluMaxNormalise(raw);
  }

  /**
   * Releases the helper models. They share layers, and so weight variables, with the caller's model, which stays
   * usable: only the use the cut added to the head's layers is released (see SplitModel.after).
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.head.dispose();
  }

  private checkInput(input: tf.Tensor4D): void {
    const expected = this.model.inputs[0].shape;
    const ok = input.rank === 4 && expected.slice(1).every((d, k) => d === null || d === input.shape[k + 1]);
    if (!ok) {
      throw new CxrError('INVALID_ARGUMENT', `Input shape [${input.shape.join(', ')}] does not fit the model input ` +
        `[${expected.map((d) => d ?? 'batch').join(', ')}]; preprocess images to the model's size first.`);
    }
  }
}


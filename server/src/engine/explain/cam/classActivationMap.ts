import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../../errors';
import { CamMethod } from './camMethod';
import { camDense, denseWeights } from './head';

/**
 * CAM (Zhou et al. 2016): for features -> GAP -> Dense, the weights of class c are the Dense kernel's column c, and
 * sum_k w_k A_k is the class logit laid out over the image. Only valid for that head (checked at construction).
 */
export class ClassActivationMap extends CamMethod {
  private readonly dense: tfl.layers.Layer;

  constructor(model: tfl.LayersModel, featureLayer: string) {
    super(model, featureLayer);
    this.dense = camDense(this.head, featureLayer);
  }

  protected channelWeights(features: tf.Tensor4D, target: number): tf.Tensor1D {
    const [kernel] = denseWeights(this.dense);
    const channels = features.shape[3];
    if (kernel.shape[0] !== channels) {
      throw new CxrError('MODEL_INVALID', `The final Dense kernel has ${kernel.shape[0]} inputs but the feature map has ${channels} channels.`);
    }
    return tf.reshape(tf.slice(kernel, [0, target], [channels, 1]), [channels]);
  }

  /**
   * Min-max, without Grad-CAM's ReLU, as in the CAM paper: the map is the logit's spatial layout, and for a class
   * whose logit is negative everywhere (typical when explaining a class that was not predicted) a ReLU would erase
   * it, whereas min-max keeps where the evidence is least against the class. A flat map is reported as allZero.
   */
  protected override normalise(raw: Float32Array): { map: Float32Array; allZero: boolean } {
    let min = Infinity;
    let max = -Infinity;
    for (const v of raw) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const map = new Float32Array(raw.length);
    const range = max - min;
    if (!(range > 1e-12 * Math.max(1, Math.abs(max), Math.abs(min)))) return { map, allZero: true };
    for (let i = 0; i < raw.length; i++) map[i] = (raw[i] - min) / range;
    return { map, allZero: false };
  }
}

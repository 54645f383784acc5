import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { minMaxNormalise, type NormalisedMap } from './normalise';
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

  /** Min-max without a ReLU (see minMaxNormalise). */
  protected override normalise(raw: Float32Array): NormalisedMap {
    return minMaxNormalise(raw);
  }
}

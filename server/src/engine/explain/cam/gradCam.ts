import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CamMethod } from './camMethod';
import { scoreFunction } from './head';

/**
 * Grad-CAM (Selvaraju et al. 2017): the weight of channel k is the spatial mean of d(logit_target)/dA_k for this
 * image; the map is ReLU(sum_k w_k A_k) divided by its maximum (the base class's normalise).
 */
export class GradCam extends CamMethod {
  private readonly score: (features: tf.Tensor4D) => tf.Tensor2D;

  constructor(model: tfl.LayersModel, featureLayer: string) {
    super(model, featureLayer);
    this.score = scoreFunction(this.head);
  }

  protected channelWeights(features: tf.Tensor4D, target: number, imageIndex: number): tf.Tensor1D {
    const [, height, width, channels] = features.shape;
    const image = tf.slice(features, [imageIndex, 0, 0, 0], [1, height, width, channels]);
    const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.slice(this.score(a as tf.Tensor4D), [0, target], [1, 1])))(image);
    return tf.reshape(tf.mean(gradient, [0, 1, 2]), [channels]);
  }
}

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../../errors';

type Layer = tfl.layers.Layer;

/** Layers that do nothing at inference time and may sit between pooling and the classifier. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

export interface FinalDense {
  layer: Layer;
  /** The tensor that feeds the Dense layer inside `head`. */
  input: tfl.SymbolicTensor;
  /** True when softmax is applied to the Dense output (in the Dense itself or in a following Activation layer). */
  softmax: boolean;
}

/** The classifier at the end of `head` (features -> output), or null when the output is not a Dense layer's (possibly through a softmax). */
export function findFinalDense(head: tfl.LayersModel): FinalDense | null {
  let out = head.outputs[0];
  let softmax = false;
  if (out.sourceLayer.getClassName() === 'Activation' && out.sourceLayer.getConfig().activation === 'softmax') {
    softmax = true;
    out = out.inputs[0];
  }
  if (out.sourceLayer.getClassName() !== 'Dense' || out.inputs.length !== 1) return null;
  const activation = out.sourceLayer.getConfig().activation;
  if (activation !== 'linear' && activation !== 'softmax') return null;
  return { layer: out.sourceLayer, input: out.inputs[0], softmax: softmax || activation === 'softmax' };
}

/** [kernel (channels x classes), bias (classes) or null], read at call time so later training is seen. */
export function denseWeights(dense: Layer): [tf.Tensor2D, tf.Tensor1D | null] {
  const weights = dense.getWeights();
  return [weights[0] as tf.Tensor2D, (weights[1] as tf.Tensor1D | undefined) ?? null];
}

/**
 * For CAM: checks that `head` is features -> GlobalAveragePooling2D -> (dropout) -> Dense (-> softmax), the only
 * shape for which sum_k w_k A_k is, up to the 1/(h*w) of the pooling, the class logit spread over the image.
 */
export function camDense(head: tfl.LayersModel, featureLayer: string): Layer {
  const dense = findFinalDense(head);
  let t = dense?.input;
  while (t && INFERENCE_IDENTITY.has(t.sourceLayer.getClassName())) t = t.inputs[0];
  const pooled = t?.sourceLayer.getClassName() === 'GlobalAveragePooling2D' && t.inputs[0] === head.inputs[0];
  if (!dense || !pooled) {
    const chain = head.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => `${l.name} (${l.getClassName()})`);
    throw new CxrError('INVALID_ARGUMENT', `CAM needs '${featureLayer}' to feed GlobalAveragePooling2D and then a final Dense ` +
      `layer; after it the model has ${chain.join(' -> ')}. Use Grad-CAM ('gradcam'), which works for any head, or pick ` +
      'the layer right before global pooling.');
  }
  return dense.layer;
}

/**
 * For Grad-CAM: features -> class scores before the softmax. Gradients of softmax outputs saturate and mix classes
 * (d p_c / dA depends on every other class's logit), so the score is the logit; when the model ends with a softmax
 * Dense, the logits are recomputed from its input with its kernel and bias. Otherwise the output itself is the score.
 */
export function scoreFunction(head: tfl.LayersModel): (features: tf.Tensor4D) => tf.Tensor2D {
  const dense = findFinalDense(head);
  if (!dense || !dense.softmax) return (features) => head.apply(features, { training: false }) as tf.Tensor2D;
  const toDenseInput = dense.input === head.inputs[0] ? null : tfl.model({ inputs: head.inputs, outputs: dense.input });
  return (features) => {
    const x = toDenseInput ? (toDenseInput.apply(features, { training: false }) as tf.Tensor2D) : (features as tf.Tensor as tf.Tensor2D);
    const [kernel, bias] = denseWeights(dense.layer);
    const logits: tf.Tensor2D = tf.matMul(x, kernel);
    return bias ? (tf.add(logits, bias) as tf.Tensor2D) : logits;
  };
}

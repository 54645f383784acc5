import * as tfl from '@tensorflow/tfjs-layers';
import { kernelInit } from './mobilenetV2';
import type { BackboneSpec } from './registry';

/** Layer names of the classification head added on top of every backbone (the method's GAP + Dense softmax). */
export const HEAD_POOL_LAYER = 'cxr_gap';
export const HEAD_DENSE_LAYER = 'cxr_predictions';

export function isHeadWeight(name: string): boolean {
  return name.startsWith(`${HEAD_POOL_LAYER}/`) || name.startsWith(`${HEAD_DENSE_LAYER}/`);
}

/** Backbone conv base -> global average pooling -> Dense(numClasses, softmax). One functional model. */
export function buildClassifier(spec: BackboneSpec, numClasses: number, inputSize: number, opts: { weightsFollow?: boolean } = {}): tfl.LayersModel {
  const base = spec.build({ inputSize, includeTop: false, weightsFollow: opts.weightsFollow });
  const pooled = tfl.layers.globalAveragePooling2d({ name: HEAD_POOL_LAYER }).apply(base.outputs[0]) as tfl.SymbolicTensor;
  const probs = tfl.layers
    .dense({ units: numClasses, activation: 'softmax', name: HEAD_DENSE_LAYER, ...kernelInit(opts) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: base.inputs, outputs: probs, name: `cxr_${spec.id}` });
}

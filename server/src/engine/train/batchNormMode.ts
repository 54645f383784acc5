import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../errors';
import { BATCH_NORM_MODES, isOneOf, type BatchNormMode } from '../names';

export const DEFAULT_BATCH_NORM_MODE: BatchNormMode = BATCH_NORM_MODES[0];

export function checkBatchNormMode(value: unknown): BatchNormMode {
  if (isOneOf(BATCH_NORM_MODES, value)) return value;
  throw new CxrError('INVALID_ARGUMENT', `The BatchNorm mode must be one of ${BATCH_NORM_MODES.join(', ')} (got ${String(value)}).`);
}

type Layer = tfl.LayersModel['layers'][number];
type Call = Layer['call'];

function batchNormLayers(layers: Layer[], out: Layer[] = []): Layer[] {
  for (const layer of layers) {
    if (layer instanceof tfl.LayersModel) batchNormLayers(layer.layers, out);
    else if (layer.getClassName() === 'BatchNormalization') out.push(layer);
  }
  return out;
}

/**
 * Makes every BatchNormalization layer of `model` run in inference mode even when the model is applied with
 * training=true, as Keras's transfer-learning guide does with `base(x, training=False)`: normalised by the moving
 * statistics, which are then never updated; gamma and beta still receive gradients. tfjs-layers passes one
 * `training` flag to all layers and has no per-layer switch (Keras 3 also puts a BatchNormalization with
 * trainable=False in inference mode; tfjs-layers does not), so the layers' `call` is wrapped. Returns the count.
 */
export function pinBatchNormToInference(model: tfl.LayersModel): number {
  const layers = batchNormLayers(model.layers);
  for (const layer of layers) {
    const call: Call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
  }
  return layers.length;
}

import type { BackboneId } from '../api';

/**
 * Each backbone's input convention as one per-channel affine map from [0,1] RGB: out[c] = in[order[c]] * scale - offset[c].
 * Must equal the backbone's `preprocess` in the registry; test/engine/onnx.test.ts checks it does.
 */
export interface ChannelAffine {
  order: [number, number, number];
  scale: number;
  offset: [number, number, number];
}

export const ONNX_PREPROCESS: Readonly<Record<BackboneId, ChannelAffine>> = Object.freeze({
  // Keras mobilenet_v2.preprocess_input: x * 2 - 1.
  mobilenet_v2: { order: [0, 1, 2], scale: 2, offset: [1, 1, 1] },
  // Keras 'caffe' mode: 0..255, RGB -> BGR, minus the ImageNet BGR means.
  vgg16: { order: [2, 1, 0], scale: 255, offset: [103.939, 116.779, 123.68] },
});

import * as tf from '@tensorflow/tfjs-core';
import { convGeometry } from './convGeometry';
import { composeWasm } from './wasmOps';

/**
 * dW[kh, kw, c, q] = sum over (b, oh, ow) of xPadded[b, oh*s + kh, ow*s + kw, c] * dy[b, oh, ow, c*m + q].
 * For one image that is itself a depthwise convolution: xPadded correlated with dy used as an (outH x outW)
 * filter dilated by the stride, giving a kH x kW output. Moving the batch into the channels ([h, w, b*c]) makes
 * it one wasm DepthwiseConv2dNative call for the whole batch; the per-image results are then summed.
 * This was 1.5-2.5x faster than per-tap gather + multiply + reduce, and matched the cpu backend as closely.
 */
export function depthwiseBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const g = convGeometry(tf.DepthwiseConv2dNativeBackpropFilter, x.shape, attrs.filterShape, attrs, true);
  const [kH, kW, channels, multiplier] = attrs.filterShape;
  return composeWasm(args.backend, (ops) => {
    // Exactly the rows and columns some output reads: (out - 1) * stride + k.
    const rows = (g.outH - 1) * g.strideH + kH;
    const cols = (g.outW - 1) * g.strideW + kW;
    const xPadded = ops.padOrCrop(x, [[0, 0], [g.padTop, rows - g.inH - g.padTop], [g.padLeft, cols - g.inW - g.padLeft], [0, 0]]);
    const batchInChannels = (t: tf.TensorInfo, shape: number[]) =>
      ops.reshape(g.batch === 1 ? t : ops.transpose(t, [1, 2, 0, 3]), shape);
    const input = batchInChannels(xPadded, [1, rows, cols, g.batch * channels]);
    ops.free(xPadded);
    const filter = batchInChannels(dy, [g.outH, g.outW, g.batch * channels, multiplier]);
    const perImage = ops.run('DepthwiseConv2dNative', { x: input, filter }, {
      strides: [1, 1], pad: 'valid', dilations: [g.strideH, g.strideW], dataFormat: 'NHWC',
    }); // [1, kH, kW, b*c*m]
    if (g.batch === 1) return ops.reshape(perImage, [kH, kW, channels, multiplier]);
    const grouped = ops.reshape(perImage, [kH * kW, g.batch, channels * multiplier]);
    const summed = ops.run('Sum', { x: grouped }, { axis: [1], keepDims: false });
    return ops.reshape(summed, [kH, kW, channels, multiplier]);
  });
}

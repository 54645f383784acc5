import * as tf from '@tensorflow/tfjs-core';
import { convGeometry } from './convGeometry';
import { flipFilter } from './flipFilter';
import { dilatedGradInput } from './transposedConvInput';
import { composeWasm } from './wasmOps';

/**
 * dx = depthwise conv of (dy spread by the stride and padded) with the spatially flipped filter, stride 1.
 * With a channel multiplier m, the flipped filter [kh, kw, c, m] is read as [kh, kw, c*m, 1] and the m outputs
 * belonging to each input channel are summed.
 */
export function depthwiseBackpropInputWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const g = convGeometry(tf.DepthwiseConv2dNativeBackpropInput, attrs.inputShape, filter.shape, attrs, true);
  const [kH, kW, channels, multiplier] = filter.shape;
  return composeWasm(args.backend, (ops) => {
    const flipped = flipFilter(ops, filter);
    const perChannel = multiplier === 1 ? flipped : ops.reshape(flipped, [kH, kW, channels * multiplier, 1]);
    const { input, pad } = dilatedGradInput(ops, dy, g);
    const dx = ops.run('DepthwiseConv2dNative', { x: input, filter: perChannel }, {
      strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC',
    });
    if (multiplier === 1) return dx;
    const grouped = ops.reshape(dx, [g.batch, g.inH, g.inW, channels, multiplier]);
    return ops.run('Sum', { x: grouped }, { axis: [4], keepDims: false });
  });
}

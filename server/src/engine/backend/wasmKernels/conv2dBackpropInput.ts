import * as tf from '@tensorflow/tfjs-core';
import { convGeometry, unsupportedReason } from './convGeometry';
import { flipFilter } from './flipFilter';
import { dilatedGradInput } from './transposedConvInput';
import { composeWasm } from './wasmOps';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * dx = conv2d(dy spread by the stride and padded, filter flipped in space with in/out channels swapped), stride 1.
 * This replaces wasm's own Conv2DBackpropInput, a direct loop several times slower than XNNPACK's conv2d.
 * `fallback` (wasm's kernel) handles what the composite does not: NCHW.
 */
export function makeConv2dBackpropInputWasm(fallback: tf.KernelFunc | null): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { dy, filter } = args.inputs as unknown as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (fallback != null && unsupportedReason(attrs) != null) return fallback(args as Parameters<tf.KernelFunc>[0]);
    const g = convGeometry(tf.Conv2DBackpropInput, attrs.inputShape, filter.shape, attrs, false);
    return composeWasm(args.backend, (ops) => {
      const flipped = flipFilter(ops, filter);
      const swapped = ops.transpose(flipped, [0, 1, 3, 2]); // [kh, kw, co, ci]
      ops.free(flipped);
      const { input, pad } = dilatedGradInput(ops, dy, g);
      return ops.run('Conv2D', { x: input, filter: swapped }, {
        strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1],
      });
    });
  };
}

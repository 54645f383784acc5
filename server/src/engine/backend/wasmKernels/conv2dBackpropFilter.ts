import * as tf from '@tensorflow/tfjs-core';
import { convGeometry } from './convGeometry';
import { gatherTap } from './tapGather';
import { composeWasm } from './wasmOps';

/**
 * dW[kh, kw, ci, co] = sum over (b, oh, ow) of xPadded[b, oh*s + kh, ow*s + kw, ci] * dy[b, oh, ow, co].
 * One GEMM per filter tap: tap^T [ci, N] x dy [N, co] (N = b*oh*ow), which lands directly in [kh, kw, ci, co] order.
 * x is transposed once to channel-major so each tap^T is a gather of rows. dy is the GEMM's right-hand side in
 * every tap, so wasm packs it once (its BatchMatMul caches the packed operand by tensor); transposeA/transposeB
 * would take wasm's slow loop instead.
 */
export function conv2dBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as unknown as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const g = convGeometry(tf.Conv2DBackpropFilter, x.shape, attrs.filterShape, attrs, false);
  return composeWasm(args.backend, (ops) => {
    const n = g.batch * g.outH * g.outW;
    const dy3 = ops.reshape(dy, [1, n, g.outC]);
    const xT = ops.transpose(x, [3, 0, 1, 2]); // [ci, b, h, w]
    const src = { planes: g.inC * g.batch, height: g.inH, width: g.inW, depth: 1 };
    const identityTap = g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 && g.padTop === 0 && g.padLeft === 0;
    const taps: tf.TensorInfo[] = [];
    for (let kh = 0; kh < g.kH; kh++) {
      for (let kw = 0; kw < g.kW; kw++) {
        const tap = identityTap ? xT : gatherTap(ops, xT, src, {
          kh, kw, outH: g.outH, outW: g.outW, strideH: g.strideH, strideW: g.strideW, padTop: g.padTop, padLeft: g.padLeft,
        });
        const tap3 = ops.reshape(tap, [1, g.inC, n]);
        taps.push(ops.matMul(tap3, dy3)); // [1, ci, co]
        ops.free(tap3);
        if (tap !== xT) ops.free(tap);
      }
    }
    const stacked = taps.length === 1 ? taps[0] : ops.run('Concat', taps as unknown as tf.NamedTensorInfoMap, { axis: 0 });
    return ops.reshape(stacked, [g.kH, g.kW, g.inC, g.outC]);
  });
}

import * as tf from '@tensorflow/tfjs-core';
import { WasmOps } from './wasmOps';

/**
 * The filter rotated by 180 degrees in space: out[kh, kw] = filter[kH-1-kh, kW-1-kw]. Reversing both spatial axes
 * reverses the flattened tap index, so this is kH*kW block copies (wasm's Reverse kernel took 131 ms on a
 * 3x3x512x512 filter, a per-element loop).
 */
export function flipFilter(ops: WasmOps, filter: tf.TensorInfo): tf.TensorInfo {
  const [kH, kW, ...rest] = filter.shape;
  const taps = kH * kW;
  const block = rest.reduce((a, b) => a * b, 1);
  const out = ops.allocate(filter.shape);
  const fv = ops.view(filter);
  const ov = ops.view(out);
  for (let t = 0; t < taps; t++) ov.set(fv.subarray(t * block, (t + 1) * block), (taps - 1 - t) * block);
  return out;
}

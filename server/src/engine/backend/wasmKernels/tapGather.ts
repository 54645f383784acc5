import * as tf from '@tensorflow/tfjs-core';
import { WasmOps } from './wasmOps';

/** A stack of `planes` images of height x width pixels, each pixel a run of `depth` floats, row-major. */
export interface PlaneLayout {
  planes: number;
  height: number;
  width: number;
  depth: number;
}

export interface TapWindow {
  kh: number;
  kw: number;
  outH: number;
  outW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

/**
 * The pixels filter tap (kh, kw) meets at every output position, as [planes, outH, outW, depth]; positions in the
 * padding read zero. This is one column block of im2col, built straight from the unpadded input on the wasm
 * heap: wasm's StridedSlice is a per-element loop (47 ms for one stride-2 tap of a 112x112x96 input), and its
 * Slice copies the whole input out of the heap before slicing.
 */
export function gatherTap(ops: WasmOps, x: tf.TensorInfo, src: PlaneLayout, t: TapWindow): tf.TensorInfo {
  const { planes, height, width, depth } = src;
  const out = ops.allocate([planes, t.outH, t.outW, depth]);
  const xv = ops.view(x);
  const ov = ops.view(out);
  // Output columns whose input column lies inside the image: ow in [owMin, owMax).
  const owMin = Math.max(0, Math.ceil((t.padLeft - t.kw) / t.strideW));
  const owMax = Math.min(t.outW, Math.floor((width - 1 + t.padLeft - t.kw) / t.strideW) + 1);
  const ohMin = Math.max(0, Math.ceil((t.padTop - t.kh) / t.strideH));
  const ohMax = Math.min(t.outH, Math.floor((height - 1 + t.padTop - t.kh) / t.strideH) + 1);
  if (owMin > 0 || owMax < t.outW || ohMin > 0 || ohMax < t.outH) ov.fill(0);
  if (owMax <= owMin || ohMax <= ohMin) return out;
  const rowOut = t.outW * depth;
  const run = (owMax - owMin) * depth;
  const contiguous = t.strideW === 1;
  for (let p = 0; p < planes; p++) {
    for (let oh = ohMin; oh < ohMax; oh++) {
      const ih = oh * t.strideH + t.kh - t.padTop;
      let s = ((p * height + ih) * width + (owMin * t.strideW + t.kw - t.padLeft)) * depth;
      let o = (p * t.outH + oh) * rowOut + owMin * depth;
      if (contiguous) {
        if (run >= 32) ov.set(xv.subarray(s, s + run), o);
        else for (let i = 0; i < run; i++) ov[o + i] = xv[s + i];
      } else if (depth === 1) {
        for (let ow = owMin; ow < owMax; ow++, s += t.strideW) ov[o++] = xv[s];
      } else {
        const step = t.strideW * depth;
        for (let ow = owMin; ow < owMax; ow++, s += step, o += depth) {
          if (depth >= 32) ov.set(xv.subarray(s, s + depth), o);
          else for (let i = 0; i < depth; i++) ov[o + i] = xv[s + i];
        }
      }
    }
  }
  return out;
}

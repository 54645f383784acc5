import { CxrError } from '../../errors';

/**
 * Bilinear resize of a row-major single-channel map, with cv2.resize(INTER_LINEAR)'s half-pixel centres: output
 * pixel d samples source coordinate (d + 0.5) * in/out - 0.5, clamped to the edge pixels. This keeps a 7x7 feature
 * map aligned with the image it came from (corner sampling would shift it by half a feature cell).
 */
export function upsampleBilinear(map: Float32Array, w: number, h: number, outW: number, outH: number): Float32Array {
  if (map.length !== w * h || w < 1 || h < 1 || outW < 1 || outH < 1) {
    throw new CxrError('INVALID_ARGUMENT', `Cannot resize a ${w}x${h} map of ${map.length} values to ${outW}x${outH}.`);
  }
  const xs = axis(w, outW);
  const ys = axis(h, outH);
  const out = new Float32Array(outW * outH);
  for (let oy = 0; oy < outH; oy++) {
    const { i0: y0, i1: y1, f: fy } = ys[oy];
    for (let ox = 0; ox < outW; ox++) {
      const { i0: x0, i1: x1, f: fx } = xs[ox];
      const top = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx;
      const bottom = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx;
      out[oy * outW + ox] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Per output index: the two source indices and the weight of the second. */
function axis(inSize: number, outSize: number): { i0: number; i1: number; f: number }[] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, d) => {
    const src = (d + 0.5) * scale - 0.5;
    let i0 = Math.floor(src);
    let f = src - i0;
    if (i0 < 0) {
      i0 = 0;
      f = 0;
    }
    if (i0 >= inSize - 1) {
      i0 = inSize - 1;
      f = 0;
    }
    return { i0, i1: Math.min(i0 + 1, inSize - 1), f };
  });
}

import type { AugmentParams } from '../api';
import { CxrError } from '../errors';
import type { Rng } from '../util/rng';

/**
 * Keras `ImageDataGenerator` random affine augmentation (rotation, shifts, zoom; fill_mode 'nearest', bilinear
 * interpolation = interpolation_order 1) in plain JS on an RGB-interleaved [0, 1] Float32Array.
 *
 * Conventions, as Keras `apply_affine_transform` (scipy.ndimage.affine_transform maps each output pixel to the
 * input position it samples from): with d = (row, col) - centre,
 *   input = R(theta) * (diag(zx, zy) * d + (tx, ty)) + centre,   R = [[cos, -sin], [sin, cos]] on (row, col).
 * Consequences:
 *  - tx (from heightShift, in rows) > 0 moves the picture UP by tx pixels; ty (widthShift, columns) > 0 moves it LEFT.
 *  - thetaDeg > 0 turns the picture CLOCKWISE as displayed (rows grow downwards): what was above the centre
 *    ends up to its right at +90 degrees.
 *  - zx, zy > 1 zoom out (the picture shrinks), < 1 zoom in; zx scales rows, zy columns.
 * One deliberate difference: Keras rotates and zooms about (h/2 + 0.5, w/2 + 0.5), one pixel past the geometric
 * centre of pixel indices; we use the true centre ((h - 1)/2, (w - 1)/2), so a 180-degree turn maps pixel (r, c)
 * exactly onto (h-1-r, w-1-c). The draws themselves (order and ranges) follow Keras, so a seed gives one stream.
 */
export interface AffineTransform {
  thetaDeg: number;
  /** Shift along rows, in pixels. */
  tx: number;
  /** Shift along columns, in pixels. */
  ty: number;
  zx: number;
  zy: number;
}

export const IDENTITY_TRANSFORM: Readonly<AffineTransform> = { thetaDeg: 0, tx: 0, ty: 0, zx: 1, zy: 1 };

/** Draws a transform the way Keras `get_random_transform` does: theta, tx (height), ty (width), then zx, zy. */
export function randomTransform(p: AugmentParams, size: number, rng: Rng): AffineTransform {
  checkParams(p);
  const t: AffineTransform = { ...IDENTITY_TRANSFORM };
  if (p.rotationDeg) t.thetaDeg = rng.uniform(-p.rotationDeg, p.rotationDeg);
  if (p.heightShift) t.tx = rng.uniform(-p.heightShift, p.heightShift) * size;
  if (p.widthShift) t.ty = rng.uniform(-p.widthShift, p.widthShift) * size;
  if (p.zoom) {
    t.zx = rng.uniform(1 - p.zoom, 1 + p.zoom);
    t.zy = rng.uniform(1 - p.zoom, 1 + p.zoom);
  }
  return t;
}

export function augmentImage(img: Float32Array, size: number, p: AugmentParams, rng: Rng): Float32Array {
  return applyTransform(img, size, randomTransform(p, size, rng));
}

/** Applies one transform to a size x size RGB image; returns a new array. */
export function applyTransform(img: Float32Array, size: number, t: AffineTransform): Float32Array {
  if (img.length !== size * size * 3) {
    throw new CxrError('INVALID_ARGUMENT', `Image has ${img.length} values, expected ${size} x ${size} x 3 = ${size * size * 3}.`);
  }
  if (t.thetaDeg === 0 && t.tx === 0 && t.ty === 0 && t.zx === 1 && t.zy === 1) return img.slice();

  const theta = (t.thetaDeg * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const centre = (size - 1) / 2;
  // input = A * (row, col) + b, written out so each output row costs two additions per pixel.
  const a00 = cos * t.zx;
  const a01 = -sin * t.zy;
  const a10 = sin * t.zx;
  const a11 = cos * t.zy;
  const b0 = cos * t.tx - sin * t.ty + centre - a00 * centre - a01 * centre;
  const b1 = sin * t.tx + cos * t.ty + centre - a10 * centre - a11 * centre;

  const out = new Float32Array(img.length);
  const last = size - 1;
  let o = 0;
  for (let r = 0; r < size; r++) {
    let y = a00 * r + b0;
    let x = a10 * r + b1;
    for (let c = 0; c < size; c++, y += a01, x += a11) {
      // fill_mode 'nearest': clamping the sample position replicates the edge pixels outwards.
      const yc = y <= 0 ? 0 : y >= last ? last : y;
      const xc = x <= 0 ? 0 : x >= last ? last : x;
      const y0 = Math.floor(yc);
      const x0 = Math.floor(xc);
      const y1 = y0 < last ? y0 + 1 : y0;
      const x1 = x0 < last ? x0 + 1 : x0;
      const fy = yc - y0;
      const fx = xc - x0;
      const w00 = (1 - fy) * (1 - fx);
      const w01 = (1 - fy) * fx;
      const w10 = fy * (1 - fx);
      const w11 = fy * fx;
      const i00 = (y0 * size + x0) * 3;
      const i01 = (y0 * size + x1) * 3;
      const i10 = (y1 * size + x0) * 3;
      const i11 = (y1 * size + x1) * 3;
      out[o++] = w00 * img[i00] + w01 * img[i01] + w10 * img[i10] + w11 * img[i11];
      out[o++] = w00 * img[i00 + 1] + w01 * img[i01 + 1] + w10 * img[i10 + 1] + w11 * img[i11 + 1];
      out[o++] = w00 * img[i00 + 2] + w01 * img[i01 + 2] + w10 * img[i10 + 2] + w11 * img[i11 + 2];
    }
  }
  return out;
}

function checkParams(p: AugmentParams): void {
  const bad = (name: string, v: number, max: number) => !Number.isFinite(v) || v < 0 || v > max;
  for (const [name, v, max] of [
    ['rotationDeg', p.rotationDeg, 180],
    ['widthShift', p.widthShift, 1],
    ['heightShift', p.heightShift, 1],
    ['zoom', p.zoom, 0.99],
  ] as const) {
    if (bad(name, v, max)) throw new CxrError('INVALID_ARGUMENT', `Augmentation ${name} must be between 0 and ${max}, got ${v}.`);
  }
}

import type { AugmentParams } from '../api';
import { CxrError } from '../errors';
import type { Rng } from '../util/rng';

/**
 * Keras `ImageDataGenerator` random affine augmentation (rotation, shifts, zoom; fill_mode 'nearest', bilinear
 * interpolation = interpolation_order 1) in plain JS on an RGB-interleaved [0, 1] Float32Array, with Keras's meaning
 * of every parameter: `apply_transform` of keras.src.legacy.preprocessing.image (Keras 3.15; tf.keras 2.x is the
 * same), proven against Keras's own outputs in ../shared/fixtures/keras (test/engine/augment.test.ts).
 *
 * Keras builds the matrix on (x, y) = (column, row) (it swaps the axes before scipy.ndimage.affine_transform, which
 * maps each output pixel to the input position it samples from). With (c0, r0) the centre below:
 *   (in_col, in_row) = R(theta) * (zx * (col - c0) + tx, zy * (row - r0) + ty) + (c0, r0),  R = [[cos, -sin], [sin, cos]].
 * Consequences:
 *  - tx > 0 moves the picture LEFT by tx pixels and ty > 0 moves it UP: tx acts on columns, ty on rows. Keras draws
 *    tx from height_shift_range (times the height) and ty from width_shift_range (times the width), so its
 *    "height" shift moves the picture sideways; randomTransform does the same, so a seed gives Keras's transforms.
 *  - thetaDeg > 0 turns the picture COUNTER-CLOCKWISE as displayed (rows grow downwards).
 *  - zx, zy > 1 zoom out (the picture shrinks), < 1 zoom in; zx scales columns, zy rows.
 *  - The centre is c0 = height/2 - 0.5, r0 = width/2 - 0.5 (transform_matrix_offset_center is given (h, w) for
 *    (x, y)): the true centre of a square image, and swapped between the axes on a non-square one, as in Keras.
 *    (Keras before 2.2.5 used h/2 + 0.5, one pixel past the centre.)
 *  - Positions outside the image take the nearest edge pixel (fill_mode 'nearest').
 */
export interface AffineTransform {
  thetaDeg: number;
  /** Keras tx: shift in pixels along columns (x); > 0 moves the picture left. */
  tx: number;
  /** Keras ty: shift in pixels along rows (y); > 0 moves the picture up. */
  ty: number;
  /** Zoom along columns (x). */
  zx: number;
  /** Zoom along rows (y). */
  zy: number;
}

export const IDENTITY_TRANSFORM: Readonly<AffineTransform> = { thetaDeg: 0, tx: 0, ty: 0, zx: 1, zy: 1 };

/**
 * Draws a transform the way Keras `get_random_transform` does, in its order: theta, tx (from heightShift, times the
 * image height), ty (from widthShift, times the width), then zx, zy. As in Keras, tx then acts on columns.
 */
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
  return applyAffine(img, size, size, t);
}

/** Applies one transform to a height x width RGB image (rows of interleaved RGB); returns a new array. */
export function applyAffine(img: Float32Array, height: number, width: number, t: AffineTransform): Float32Array {
  if (img.length !== height * width * 3) {
    throw new CxrError('INVALID_ARGUMENT', `Image has ${img.length} values, expected ${height} x ${width} x 3 = ${height * width * 3}.`);
  }
  if (t.thetaDeg === 0 && t.tx === 0 && t.ty === 0 && t.zx === 1 && t.zy === 1) return img.slice();

  const theta = (t.thetaDeg * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const c0 = height / 2 - 0.5;
  const r0 = width / 2 - 0.5;
  // (inCol, inRow) = A * (col, row) + b, written out so each output pixel costs two additions per coordinate.
  const aCC = cos * t.zx;
  const aCR = -sin * t.zy;
  const aRC = sin * t.zx;
  const aRR = cos * t.zy;
  const bC = cos * (t.tx - t.zx * c0) - sin * (t.ty - t.zy * r0) + c0;
  const bR = sin * (t.tx - t.zx * c0) + cos * (t.ty - t.zy * r0) + r0;

  const out = new Float32Array(img.length);
  const lastRow = height - 1;
  const lastCol = width - 1;
  let o = 0;
  for (let r = 0; r < height; r++) {
    let x = aCR * r + bC;
    let y = aRR * r + bR;
    for (let c = 0; c < width; c++, x += aCC, y += aRC) {
      // fill_mode 'nearest': clamping the sample position replicates the edge pixels outwards.
      const yc = y <= 0 ? 0 : y >= lastRow ? lastRow : y;
      const xc = x <= 0 ? 0 : x >= lastCol ? lastCol : x;
      const y0 = Math.floor(yc);
      const x0 = Math.floor(xc);
      const y1 = y0 < lastRow ? y0 + 1 : y0;
      const x1 = x0 < lastCol ? x0 + 1 : x0;
      const fy = yc - y0;
      const fx = xc - x0;
      const w00 = (1 - fy) * (1 - fx);
      const w01 = (1 - fy) * fx;
      const w10 = fy * (1 - fx);
      const w11 = fy * fx;
      const i00 = (y0 * width + x0) * 3;
      const i01 = (y0 * width + x1) * 3;
      const i10 = (y1 * width + x0) * 3;
      const i11 = (y1 * width + x1) * 3;
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

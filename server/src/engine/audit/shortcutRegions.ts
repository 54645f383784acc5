/**
 * The fixed regions the shortcut audits use, as fractions of the (square, resized) image. A frontal chest radiograph
 * at the usual framing has both lung fields inside LUNG_FIELD; what lies outside it (shoulders, corners, burned-in
 * markers, collimation edges, the source's framing) is where acquisition shortcuts live. BORDER_KEPT is the outer
 * frame left visible by the border-only check: everything inside it is hidden.
 */
export interface Region {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** Both lung fields of a frontal CXR: rows 15%-85%, columns 10%-90%. */
export const LUNG_FIELD: Region = { top: 0.15, left: 0.1, bottom: 0.85, right: 0.9 };
/** The border-only check hides rows and columns 8%-92%, keeping an 8% frame. */
export const BORDER_HIDDEN: Region = { top: 0.08, left: 0.08, bottom: 0.92, right: 0.92 };

/** `r` shrunk (scale < 1) or kept (1) about its centre; scale 0 is an empty region. */
export function scaleRegion(r: Region, scale: number): Region {
  const cy = (r.top + r.bottom) / 2;
  const cx = (r.left + r.right) / 2;
  return { top: cy - ((cy - r.top) * scale), bottom: cy + ((r.bottom - cy) * scale), left: cx - ((cx - r.left) * scale), right: cx + ((r.right - cx) * scale) };
}

/** Whether pixel (y, x) of a size x size image has its centre inside `r`. */
export function inRegion(r: Region, y: number, x: number, size: number): boolean {
  const fy = (y + 0.5) / size;
  const fx = (x + 0.5) / size;
  return fy >= r.top && fy < r.bottom && fx >= r.left && fx < r.right;
}

/** A copy of an HWC RGB image with `r` filled with the image's mean per channel (no new edges of a foreign colour). */
export function maskRegion(image: Float32Array, size: number, r: Region): Float32Array {
  const out = Float32Array.from(image);
  const mean = [0, 0, 0];
  for (let i = 0; i < image.length; i++) mean[i % 3] += image[i];
  for (let c = 0; c < 3; c++) mean[c] /= size * size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inRegion(r, y, x, size)) continue;
      const o = (y * size + x) * 3;
      out[o] = mean[0];
      out[o + 1] = mean[1];
      out[o + 2] = mean[2];
    }
  }
  return out;
}

/** Share of a non-negative map's total (a w x h grid over the image) that falls in `r`, by upsampling to `size`. */
export function shareInRegion(upsampled: Float32Array, size: number, r: Region): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = Math.max(0, upsampled[y * size + x]);
      total += v;
      if (inRegion(r, y, x, size)) inside += v;
    }
  }
  return total > 0 ? inside / total : Number.NaN;
}

/** The fraction of the image's area inside `r` (what a map spread evenly would put there). */
export function areaShare(r: Region): number {
  return Math.max(0, r.bottom - r.top) * Math.max(0, r.right - r.left);
}

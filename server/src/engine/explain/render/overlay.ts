import sharp from 'sharp';
import { CxrError } from '../../errors';
import { jet } from './jet';

/** (1 - alpha) * image + alpha * jet(heat), as 8-bit RGB (row-major, 3 bytes per pixel). */
export function blendOverlay(unitRgb: Float32Array, size: number, heatmap01: Float32Array, alpha = 0.35): Uint8Array {
  return blendOverlayRect(unitRgb, size, size, heatmap01, alpha);
}

/** blendOverlay for a width x height image (an image at its own size). */
export function blendOverlayRect(unitRgb: Float32Array, width: number, height: number, heatmap01: Float32Array, alpha = 0.35): Uint8Array {
  const pixels = width * height;
  if (unitRgb.length !== pixels * 3) {
    throw new CxrError('INVALID_ARGUMENT', `Overlay image has ${unitRgb.length} values; a ${width}x${height} RGB image needs ${pixels * 3}.`);
  }
  if (heatmap01.length !== pixels) {
    throw new CxrError('INVALID_ARGUMENT', `Heatmap has ${heatmap01.length} values; upsample it to ${width}x${height} (${pixels}) first.`);
  }
  if (!(alpha >= 0 && alpha <= 1)) throw new CxrError('INVALID_ARGUMENT', `Overlay alpha must be in [0, 1]; got ${alpha}.`);
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const colour = jet(heatmap01[p]);
    for (let c = 0; c < 3; c++) {
      const v = (1 - alpha) * unitRgb[3 * p + c] + alpha * colour[c];
      out[3 * p + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return out;
}

/** The overlay as a PNG (RGB, size x size). `unitRgb` is the image in [0, 1], HWC; `heatmap01` is size*size in [0, 1]. */
export async function renderOverlayPng(unitRgb: Float32Array, size: number, heatmap01: Float32Array, alpha = 0.35): Promise<Buffer> {
  return renderOverlayPngRect(unitRgb, size, size, heatmap01, alpha);
}

/** renderOverlayPng for a width x height image. */
export async function renderOverlayPngRect(unitRgb: Float32Array, width: number, height: number, heatmap01: Float32Array, alpha = 0.35): Promise<Buffer> {
  const rgb = blendOverlayRect(unitRgb, width, height, heatmap01, alpha);
  return sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

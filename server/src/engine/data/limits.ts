import { CxrError } from '../errors';

/**
 * 64 MP (8000 x 8000): the largest radiographs (full-field mammography, 4096 x 5625) are under 25 MP. A decode holds
 * a few bytes per pixel at once (a 16-bit DICOM as float64: 8), so this bounds one request to about half a gigabyte.
 */
export const DEFAULT_MAX_INPUT_PIXELS = 64_000_000;

/** Throws IMAGE_TOO_LARGE when width x height exceeds `limit`; called with header sizes, before any decoding. */
export function checkPixels(name: string, width: number, height: number, limit: number): void {
  if (width * height > limit) {
    throw new CxrError(
      'IMAGE_TOO_LARGE',
      `${name} is ${width} x ${height} pixels (${((width * height) / 1e6).toFixed(1)} MP), over the ${(limit / 1e6).toFixed(1)} MP limit. Downscale it first or raise maxInputPixels.`,
      { file: name, width, height, limit },
    );
  }
}

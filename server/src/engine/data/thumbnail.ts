import sharp from 'sharp';
import { CxrError } from '../errors';
import { decodeImage } from './decode';

export const MIN_THUMBNAIL_SIZE = 16;
export const MAX_THUMBNAIL_SIZE = 256;

/**
 * A small JPEG of an image (size x size, as every view of the engine sees it: decoded by decode.ts, DICOM included),
 * for views that must never load full images.
 */
export async function renderThumbnail(file: string, size: number): Promise<Buffer> {
  if (!Number.isInteger(size) || size < MIN_THUMBNAIL_SIZE || size > MAX_THUMBNAIL_SIZE) {
    throw new CxrError('INVALID_ARGUMENT', `The thumbnail size must be a whole number from ${MIN_THUMBNAIL_SIZE} to ${MAX_THUMBNAIL_SIZE} (got ${size}).`);
  }
  const image = await decodeImage(file, size);
  const bytes = new Uint8Array(image.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, image.data[i])) * 255);
  return sharp(Buffer.from(bytes.buffer), { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 75 }).toBuffer();
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { CxrError } from '../errors';
import { bufferEnding, corruptImage, decodeProblemMessage, decoderText, ENDING_HEAD_BYTES, ENDING_TAIL_BYTES, fileEnding, rasterKind, type FileEnding } from './decodeErrors';
import { decodeDicom, JPEG_FRAME, type DicomAcquisition } from './dicom';
import { checkPixels, DEFAULT_MAX_INPUT_PIXELS } from './limits';
import { MAX_IMAGE_BYTES, openRegular, readRegularFile } from '../util/safeRead';
import { sniffFormat, SNIFF_BYTES, type RasterFormat } from './sniff';

/**
 * The one place images are decoded. Every consumer (training, evaluation, prediction, explanations, previews) gets
 * the same pixels: EXIF orientation applied, alpha flattened on black, grey replicated to RGB, resized to
 * size x size ignoring the aspect ratio (like Keras `load_img(target_size=...)`), values in [0, 1].
 */
export interface DecodedImage {
  /** RGB interleaved, row-major, values in [0, 1], length width * height * 3 (size x size unless `fit: 'own'`). */
  data: Float32Array;
  width: number;
  height: number;
  source: {
    format: string;
    /** As displayed, i.e. after the EXIF orientation. */
    width: number;
    height: number;
    channels: number;
    bitDepth: 8 | 16;
    /** EXIF orientation tag (1-8) when the file had one. */
    orientation?: number;
    /** DICOM files only: modality, body part and view position when the file names them. */
    dicom?: DicomAcquisition;
  };
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this, before decoding them. Default 64 megapixels. */
  maxInputPixels?: number;
  /**
   * How picky the decoder is. 'warning' (default, sharp's advice for untrusted input) also rejects JPEGs with corrupt
   * data segments that libjpeg would otherwise paint grey; 'truncated' only rejects cut-off files.
   */
  failOn?: 'truncated' | 'error' | 'warning';
  /**
   * 'square' (default): size x size, aspect ignored, as the models take it. 'own': the image's own width and height
   * (after EXIF orientation), shrunk with its aspect kept only where a side exceeds `size`; for full-size renderings.
   */
  fit?: 'square' | 'own';
}

export { DEFAULT_MAX_INPUT_PIXELS };
export const MAX_OUTPUT_SIZE = 4096;

/**
 * Files up to this size are read whole, once, and decoded from memory: libvips reading a file path itself opens and
 * reads it more than once (header, then pixels), and decoding from memory was 1.4x faster on the 640 px JPEGs of the
 * reference set. Larger files (huge TIFFs) are left to libvips's own streaming reads.
 */
const READ_WHOLE_MAX_BYTES = 64 * 1024 * 1024;

// Decoding runs several images at once (decode-ahead, the worker pool), which already fills the cores; libvips's own
// threads inside one small image only contend with them: one thread per image decoded 224 images/s on 2 cores with 4
// in flight, against 152 with libvips's default of one thread per core (and the same 8.5 ms for a single image).
sharp.concurrency(1);

let decodes = 0;
/** Images this thread has started to decode (both entry points): lets tests show that a cache hit decoded nothing. */
export function decodeCount(): number {
  return decodes;
}

/** Decodes a file; the format comes from its bytes, never from its extension. */
export async function decodeImage(file: string, size: number, opts: DecodeOptions = {}): Promise<DecodedImage> {
  checkSize(size);
  decodes++;
  const abs = path.resolve(file);
  const { head, whole } = await readForDecoding(abs);
  const sniffed = sniffFormat(head);
  const name = path.basename(abs);
  if (sniffed.kind === 'raster') return decodeRaster(whole ?? abs, sniffed.format, size, name, opts);
  if (sniffed.kind === 'dicom' || (sniffed.unknownBinary && isDcmName(abs))) {
    return decodeDicomBytes(whole ?? (await readRegularFile(abs, 'image', MAX_IMAGE_BYTES)), size, name, opts);
  }
  throw unsupported(name, sniffed.description);
}

/** Decodes bytes already in memory; `name` is only used in messages (and as a DICOM hint when it ends in .dcm). */
export async function decodeImageBuffer(buf: Buffer, size: number, name: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  checkSize(size);
  decodes++;
  const sniffed = sniffFormat(buf.subarray(0, SNIFF_BYTES));
  if (sniffed.kind === 'raster') return decodeRaster(buf, sniffed.format, size, name, opts);
  if (sniffed.kind === 'dicom' || (sniffed.unknownBinary && isDcmName(name))) return decodeDicomBytes(buf, size, name, opts);
  throw unsupported(name, sniffed.description);
}

async function decodeRaster(
  input: string | Buffer,
  format: RasterFormat,
  size: number,
  name: string,
  opts: DecodeOptions,
  kind = rasterKind(format),
): Promise<DecodedImage> {
  const limit = pixelLimit(opts);
  const failOn = opts.failOn ?? 'warning';
  let meta: sharp.Metadata;
  try {
    // Header only: nothing is decoded yet, so a forged 100000 x 100000 header costs nothing.
    meta = await sharp(input, { failOn, limitInputPixels: false }).metadata();
  } catch (e) {
    throw corruptImage(name, kind, e, await endingOf(input, format));
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new CxrError('CORRUPT_IMAGE', decodeProblemMessage(name, kind, 'damaged-header'), { file: name, problem: 'damaged-header' });
  checkPixels(name, width, height, limit);
  const target = outputSize(size, width, height, opts);

  // 16-bit PNG/TIFF stay 16-bit through orientation, flattening and resizing: 'rgb16' keeps libvips in ushort.
  const sixteenBit = meta.depth !== undefined && meta.depth !== 'uchar' && meta.depth !== 'char';
  let pipeline = sharp(input, { failOn, limitInputPixels: limit }).autoOrient();
  if (meta.hasAlpha) pipeline = pipeline.flatten({ background: { r: 0, g: 0, b: 0 } });
  // 'linear': a triangle filter widened by the reduction factor (antialiased), the filter family of Pillow's
  // BILINEAR that Keras load_img(interpolation='bilinear') uses (not compared pixel-for-pixel with Pillow here).
  // sharp's default lanczos3 overshoots at the sharp rib/air edges of X-rays; nearest (load_img's default)
  // aliases when shrinking 640+ px images to 224.
  pipeline = pipeline
    .resize(target.width, target.height, { fit: 'fill', kernel: 'linear' })
    .toColourspace(sixteenBit ? 'rgb16' : 'srgb')
    .raw(sixteenBit ? { depth: 'ushort' } : undefined);

  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    raw = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (e) {
    if (/pixel limit/i.test(decoderText(e))) checkPixels(name, width, height, 0);
    throw corruptImage(name, kind, e, await endingOf(input, format));
  }
  const { data, info } = raw;
  if (info.width !== target.width || info.height !== target.height || info.channels !== 3) {
    throw new CxrError('INTERNAL', `${name}: decoder returned ${info.width}x${info.height}x${info.channels}, expected ${target.width}x${target.height}x3.`);
  }
  return {
    data: sixteenBit ? unitFrom16Bit(data) : unitFrom8Bit(data),
    width: target.width,
    height: target.height,
    source: {
      format,
      width,
      height,
      channels: meta.channels ?? info.channels,
      bitDepth: sixteenBit ? 16 : 8,
      ...(meta.orientation !== undefined ? { orientation: meta.orientation } : {}),
    },
  };
}

/** How the input ends (see fileEnding), read only once decoding has failed. */
async function endingOf(input: string | Buffer, format: RasterFormat): Promise<FileEnding> {
  if (Buffer.isBuffer(input)) return bufferEnding(format, input);
  try {
    const handle = await fs.promises.open(input, 'r');
    try {
      const { size } = await handle.stat();
      const head = Buffer.alloc(Math.min(ENDING_HEAD_BYTES, size));
      await handle.read(head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(ENDING_TAIL_BYTES, size));
      await handle.read(tail, 0, tail.length, size - tail.length);
      return fileEnding(format, head, tail, size);
    } finally {
      await handle.close();
    }
  } catch {
    return 'unknown';
  }
}

/** A .dcm file without the 'DICM' marker may be a bare data set (no Part 10 header): worth a parse attempt. */
function isDcmName(name: string): boolean {
  return path.extname(name).toLowerCase() === '.dcm';
}

async function decodeDicomBytes(buf: Buffer, size: number, name: string, opts: DecodeOptions): Promise<DecodedImage> {
  const failOn = opts.failOn ?? 'warning';
  const dicom = await decodeDicom(buf, name, { maxInputPixels: pixelLimit(opts), failOn });
  const source = {
    format: 'dicom',
    width: dicom.width,
    height: dicom.height,
    channels: dicom.kind === 'grey' ? 1 : 3,
    bitDepth: dicom.bitsAllocated > 8 ? 16 : 8,
    dicom: dicom.acquisition,
  } as const;
  if (dicom.kind === 'jpeg') return { ...(await decodeRaster(dicom.bytes, 'jpeg', size, name, opts, JPEG_FRAME)), source };

  // Pixels go through sharp so DICOM images are resized by the same filter as every other image.
  let pipeline: sharp.Sharp;
  if (dicom.kind === 'grey') {
    // 16-bit grey keeps the VOI output's precision through the resize.
    const grey = new Uint16Array(dicom.grey.length);
    for (let i = 0; i < grey.length; i++) grey[i] = Math.round(dicom.grey[i] * 65535);
    pipeline = sharp(grey, { raw: { width: dicom.width, height: dicom.height, channels: 1 }, limitInputPixels: false }).toColourspace('rgb16');
  } else {
    pipeline = sharp(dicom.rgb, { raw: { width: dicom.width, height: dicom.height, channels: 3 }, limitInputPixels: false }).toColourspace('srgb');
  }
  const sixteenBit = dicom.kind === 'grey';
  const target = outputSize(size, dicom.width, dicom.height, opts);
  const { data } = await pipeline
    .resize(target.width, target.height, { fit: 'fill', kernel: 'linear' })
    .raw(sixteenBit ? { depth: 'ushort' } : undefined)
    .toBuffer({ resolveWithObject: true });
  return {
    data: sixteenBit ? unitFrom16Bit(data) : unitFrom8Bit(data),
    width: target.width,
    height: target.height,
    source,
  };
}

/** v / 255 for every 8-bit value, as float32: the same numbers as dividing, looked up. */
const EIGHT_BIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

// One loop per sample type: a single loop fed both Buffers and Uint16Arrays stayed polymorphic and took about 1.3 ms
// per 224 px image in a short-lived process (an evaluation of 66 images spent 86 ms there).

/** 8-bit samples as values in [0, 1]. */
function unitFrom8Bit(data: Buffer): Float32Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = EIGHT_BIT[bytes[i]];
  return out;
}

/** 16-bit samples as values in [0, 1]. */
function unitFrom16Bit(data: Buffer): Float32Array {
  const values = new Uint16Array(alignedCopy(data).buffer);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] / 65535;
  return out;
}

/** A fresh, 2-byte-aligned copy: sharp's output Buffer may sit at an odd offset of a shared pool. */
function alignedCopy(data: Buffer): Uint8Array {
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return copy;
}

/** The first bytes of a regular file (a FIFO, device or folder is refused with NOT_A_FILE, without blocking). */
/** The bytes the format is sniffed from, and the whole file when it is small enough to decode from memory. */
async function readForDecoding(file: string): Promise<{ head: Buffer; whole: Buffer | null }> {
  const { handle, size } = await openRegular(file, 'image');
  try {
    if (size > MAX_IMAGE_BYTES) throw new CxrError('IMAGE_TOO_LARGE', `${path.basename(file)} is ${(size / 1e6).toFixed(0)} MB, over the ${MAX_IMAGE_BYTES / 1e6} MB an image file may have.`, { file: path.basename(file) });
    const whole = size <= READ_WHOLE_MAX_BYTES;
    const buf = Buffer.alloc(whole ? size : Math.min(SNIFF_BYTES, size));
    let read = 0;
    while (read < buf.length) {
      const { bytesRead } = await handle.read(buf, read, buf.length - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    const bytes = buf.subarray(0, read);
    return { head: bytes.subarray(0, SNIFF_BYTES), whole: whole ? bytes : null };
  } finally {
    await handle.close();
  }
}

/** The decoded size: size x size, or (fit 'own') the image's own, shrunk to `size` on its longer side if larger. */
function outputSize(size: number, width: number, height: number, opts: DecodeOptions): { width: number; height: number } {
  if (opts.fit !== 'own') return { width: size, height: size };
  const scale = Math.min(1, size / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_OUTPUT_SIZE) {
    throw new CxrError('INVALID_ARGUMENT', `Image size must be an integer from 1 to ${MAX_OUTPUT_SIZE}, got ${size}.`);
  }
}

function pixelLimit(opts: DecodeOptions): number {
  const limit = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  if (!Number.isFinite(limit) || limit <= 0) throw new CxrError('INVALID_ARGUMENT', `maxInputPixels must be a positive number, got ${limit}.`);
  return limit;
}

function unsupported(name: string, description: string): CxrError {
  return new CxrError('UNSUPPORTED_FORMAT', `${name} is not an image this tool reads: it looks like ${description}. Supported: PNG, JPEG, WebP, TIFF, GIF, DICOM.`, {
    file: name,
    detected: description,
  });
}

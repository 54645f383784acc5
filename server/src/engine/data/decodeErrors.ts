import { CxrError } from '../errors';

/**
 * What is wrong with an image the decoder (sharp/libvips with libjpeg, libspng, libwebp, libtiff, libnsgif) refused,
 * in the user's terms. The decoder's own wording ("VipsJpeg: Premature end of JPEG file", "pngload_buffer: libspng
 * read error", "failOn" advice) names library internals the user can do nothing with: it goes to the log only, as the
 * error's diagnostic.
 */
export type DecodeProblem = 'truncated' | 'damaged-data' | 'damaged-header' | 'undecodable';

/**
 * Whether a file ends where its format says it does: a PNG with its IEND chunk, a JPEG with its EOI marker, a GIF with
 * its trailer, a WebP as long as its RIFF header says, a TIFF holding the directory its header points to. 'cut' is the
 * surest sign of a truncated file (libpng, for one, reports a cut file and a damaged one alike: "read error").
 */
export type FileEnding = 'complete' | 'cut' | 'unknown';

/** How many bytes of a file's start and end fileEnding needs. */
export const ENDING_HEAD_BYTES = 16;
export const ENDING_TAIL_BYTES = 256;

/** fileEnding of bytes in memory. */
export function bufferEnding(format: string, bytes: Buffer): FileEnding {
  return fileEnding(format, bytes.subarray(0, ENDING_HEAD_BYTES), bytes.subarray(Math.max(0, bytes.length - ENDING_TAIL_BYTES)), bytes.length);
}

export function fileEnding(format: string, head: Buffer, tail: Buffer, size: number): FileEnding {
  switch (format) {
    case 'png':
      return tail.includes('IEND', 0, 'latin1') ? 'complete' : 'cut';
    case 'jpeg':
      return tail.includes(Buffer.from([0xff, 0xd9])) ? 'complete' : 'cut';
    case 'gif':
      return tail[tail.length - 1] === 0x3b ? 'complete' : 'cut';
    case 'webp':
      return head.length >= 8 && head.toString('latin1', 0, 4) === 'RIFF' ? (head.readUInt32LE(4) + 8 > size ? 'cut' : 'complete') : 'unknown';
    case 'tiff': {
      if (head.length < 8) return 'unknown';
      const littleEndian = head.toString('latin1', 0, 2) === 'II';
      const firstDirectory = littleEndian ? head.readUInt32LE(4) : head.readUInt32BE(4);
      return firstDirectory >= size ? 'cut' : 'unknown';
    }
    default:
      return 'unknown';
  }
}

/** The decoder's wording of each problem; a file that ends where it should is never called truncated. */
const TRUNCATED = /premature end of (jpeg )?(image|file)|unexpected end|end of (file|stream|input)|truncat|not enough (image )?data|short read/i;
const DAMAGED_HEADER = /header|signature|ihdr|unsupported image format|not in a known format|unknown format|bad magic|unable to parse/i;
const DAMAGED_DATA = /corrupt|crc|checksum|huffman|read error|idat|inflate|zlib|decompress|extraneous|bad (data|code|block)|invalid (code|distance|block)|lzw/i;

export function classifyDecodeFailure(decoderMessage: string, ending: FileEnding = 'unknown'): DecodeProblem {
  if (ending === 'cut') return 'truncated';
  if (ending !== 'complete' && TRUNCATED.test(decoderMessage)) return 'truncated';
  if (DAMAGED_HEADER.test(decoderMessage)) return 'damaged-header';
  if (DAMAGED_DATA.test(decoderMessage)) return 'damaged-data';
  return 'undecodable';
}

/**
 * The user's message for `problem` in file `name`; `kind` names what was decoded ("PNG file", "JPEG frame of this
 * DICOM file"). It says what is wrong and what to do.
 */
export function decodeProblemMessage(name: string, kind: string, problem: DecodeProblem): string {
  switch (problem) {
    case 'truncated':
      return `${name}: the ${kind} is truncated: its data ends before the image does (an interrupted copy or download?). Copy it again from its source, or remove it.`;
    case 'damaged-data':
      return `${name}: the ${kind} is damaged: its compressed pixels do not decode cleanly. Copy or export it again from its source, or remove it.`;
    case 'damaged-header':
      return `${name}: the ${kind} has a damaged header, so the image's size and layout cannot be read. Copy or export it again from its source, or remove it.`;
    case 'undecodable':
      return `${name}: the ${kind} does not decode: it is damaged, or a variant this tool cannot read. Export it again (e.g. as an 8-bit PNG), or remove it.`;
  }
}

/** The `kind` of decodeProblemMessage for a raster format ("png" -> "PNG file"). */
export function rasterKind(format: string): string {
  return `${format.toUpperCase()} file`;
}

/**
 * CORRUPT_IMAGE for a decoder failure `e` on file `name` (whose ending, when known, tells a cut file): a clear message,
 * the problem in details, the decoder's words as the diagnostic for the log.
 */
export function corruptImage(name: string, kind: string, e: unknown, ending: FileEnding = 'unknown'): CxrError {
  const decoderMessage = decoderText(e);
  const problem = classifyDecodeFailure(decoderMessage, ending);
  return new CxrError('CORRUPT_IMAGE', decodeProblemMessage(name, kind, problem), { file: name, problem }).withDiagnostic(`${name}: ${kind} decoder: ${decoderMessage}`);
}

/** The decoder's message on one line (libvips joins several with newlines). */
export function decoderText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
}

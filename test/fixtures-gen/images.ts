/**
 * Builds odd and broken image files at test time, in temp folders: nothing here is checked in as a binary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';

/** Writes files under `root`; keys are relative paths (folders created), values the content. */
export function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
}

/** A solid-colour 8-bit PNG. */
export async function solidPng(width: number, height: number, rgb: [number, number, number] = [128, 128, 128]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

/** PNG from raw 8-bit pixels (1 = grey, 2 = grey+alpha, 3 = RGB, 4 = RGBA). */
export async function rawPng(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toBuffer();
}

/** A 16-bit greyscale PNG holding exactly `values` (row-major). */
export async function grey16Png(values: Uint16Array, width: number, height: number): Promise<Buffer> {
  return sharp(values, { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
}

/** A JPEG whose stored pixels are `pixels` (RGB) and whose EXIF says to display them turned by `orientation`. */
export async function jpegWithOrientation(pixels: Uint8Array, width: number, height: number, orientation: number): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
}

/** The first `fraction` of a file, as a download cut short would leave it. */
export function truncated(bytes: Buffer, fraction: number): Buffer {
  return Buffer.from(bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

/**
 * A small, valid-looking PNG whose header claims width x height pixels (a decompression bomb's shape): the
 * signature, an IHDR with correct CRC, one tiny IDAT and IEND. Decoding it for real would need width*height*3 bytes.
 */
export function pngWithHugeHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const idat = zlib.deflateSync(Buffer.alloc(1 + 3 * 16)); // one filter byte and a few zero pixels
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

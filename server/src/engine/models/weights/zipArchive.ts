import * as fs from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { CxrError } from '../../errors';

/**
 * The little of the ZIP format (APPNOTE.TXT) that a Keras `.keras` archive needs: the central directory (zip64
 * included), and extraction of one entry, stored (Python zipfile's default, which Keras uses) or deflated.
 */
export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = fs.readSync(fd, buf, 0, length, position);
  return buf.subarray(0, n);
}

export function readZipDirectory(file: string): ZipEntry[] {
  const bad = (why: string) => new CxrError('WEIGHTS_INVALID', `${file} starts like a ZIP archive but ${why}: the file is damaged or truncated.`, { file });
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tailStart = Math.max(0, size - 22 - MAX_COMMENT);
    const tail = readAt(fd, tailStart, size - tailStart);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        at = i;
        break;
      }
    }
    if (at < 0) throw bad('has no end of central directory');
    let count = tail.readUInt16LE(at + 10);
    let dirSize = tail.readUInt32LE(at + 12);
    let dirOffset = tail.readUInt32LE(at + 16);
    if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
      if (at < 20 || tail.readUInt32LE(at - 20) !== ZIP64_LOCATOR) throw bad('lacks its zip64 locator');
      const z = readAt(fd, Number(tail.readBigUInt64LE(at - 20 + 8)), 56);
      if (z.length < 56 || z.readUInt32LE(0) !== ZIP64_EOCD) throw bad('has a broken zip64 directory record');
      count = Number(z.readBigUInt64LE(32));
      dirSize = Number(z.readBigUInt64LE(40));
      dirOffset = Number(z.readBigUInt64LE(48));
    }
    if (dirOffset + dirSize > size) throw bad(`declares its directory at ${dirOffset} + ${dirSize} bytes, past the end (${size})`);
    const dir = readAt(fd, dirOffset, dirSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw bad('has a broken central directory');
      const nameLen = dir.readUInt16LE(p + 28);
      const extraLen = dir.readUInt16LE(p + 30);
      const commentLen = dir.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        name: dir.toString('utf8', p + 46, p + 46 + nameLen),
        method: dir.readUInt16LE(p + 10),
        crc32: dir.readUInt32LE(p + 16),
        compressedSize: dir.readUInt32LE(p + 20),
        size: dir.readUInt32LE(p + 24),
        localHeaderOffset: dir.readUInt32LE(p + 42),
      };
      applyZip64Extra(entry, dir.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
      entries.push(entry);
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

/** Sizes and offset that do not fit 32 bits are 0xffffffff in the record and 64-bit in extra field 0x0001, in this order. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  for (let q = 0; q + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let r = q + 4;
      const next = (): number => {
        const v = Number(extra.readBigUInt64LE(r));
        r += 8;
        return v;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
    }
    q += 4 + len;
  }
}

/** Writes one entry to `dest`, streaming; checks its size and CRC-32. */
export async function extractZipEntry(file: string, entry: ZipEntry, dest: string): Promise<void> {
  const bad = (why: string) => new CxrError('WEIGHTS_INVALID', `${file}: entry ${entry.name} ${why}: the archive is damaged or truncated.`, { file });
  if (entry.method !== 0 && entry.method !== 8) {
    throw new CxrError('WEIGHTS_INVALID', `${file}: entry ${entry.name} uses ZIP compression method ${entry.method}; only stored and deflated entries can be read. Re-save the model with Keras.`);
  }
  const fd = fs.openSync(file, 'r');
  let dataStart: number;
  try {
    const local = readAt(fd, entry.localHeaderOffset, 30);
    if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) throw bad('has no local header where the directory says');
    dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    fs.closeSync(fd);
  }
  if (dataStart + entry.compressedSize > fs.statSync(file).size) throw bad('runs past the end of the file');
  let crc = 0;
  let written = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = zlib.crc32(chunk, crc);
      written += chunk.length;
      done(null, chunk);
    },
  });
  try {
    if (entry.compressedSize === 0) fs.writeFileSync(dest, '');
    else {
      const source = fs.createReadStream(file, { start: dataStart, end: dataStart + entry.compressedSize - 1 });
      if (entry.method === 8) await pipeline(source, zlib.createInflateRaw(), check, fs.createWriteStream(dest));
      else await pipeline(source, check, fs.createWriteStream(dest));
    }
  } catch (e) {
    throw bad(`could not be unpacked (${(e as Error).message})`);
  }
  if (written !== entry.size || (crc >>> 0) !== entry.crc32) throw bad(`unpacks to ${written} bytes with CRC ${crc >>> 0}, where the directory says ${entry.size} bytes, CRC ${entry.crc32}`);
}

/** Reads a small entry (config.json) into memory. */
export async function readZipText(file: string, entry: ZipEntry, scratch: string, maxBytes: number): Promise<string | null> {
  if (entry.size > maxBytes) return null;
  await extractZipEntry(file, entry, scratch);
  return fs.readFileSync(scratch, 'utf8');
}

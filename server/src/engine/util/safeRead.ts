import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../errors';

/**
 * Opening and reading files a user or a request named. Only regular files are read: a FIFO would block the reading
 * thread forever (and with it the backend's main thread or a libuv worker), a device (/dev/zero, /dev/random) never
 * ends. Files are opened non-blocking, checked with fstat on the open descriptor (no race with a swapped path), and
 * read up to a size bound.
 */

/** Big enough for any weights file of the backbones here (VGG16 no-top is 59 MB, with top 553 MB). */
export const MAX_WEIGHTS_BYTES = 1024 * 1024 * 1024;
/** Images, DICOM files: a 150 MP 16-bit RGB TIFF is 900 MB uncompressed; nothing legitimate is bigger. */
export const MAX_IMAGE_BYTES = 1024 * 1024 * 1024;
/** JSON and text files the engine writes or reads (configs, manifests, CSV, labels). */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;

const NONBLOCK = fs.constants.O_NONBLOCK ?? 0;
const OPEN_FLAGS = fs.constants.O_RDONLY | NONBLOCK;

/** What a non-regular file is, in words. */
function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a named pipe (FIFO)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notAFile(file: string, what: string, stat: fs.Stats): CxrError {
  return new CxrError('NOT_A_FILE', `The ${what} ${path.basename(file)} is ${kindOf(stat)}, not a regular file; only regular files are read.`, {
    file: path.basename(file),
  });
}

function tooBig(file: string, what: string, size: number, max: number): CxrError {
  return new CxrError('INVALID_ARGUMENT', `The ${what} ${path.basename(file)} is ${(size / 1e6).toFixed(0)} MB, over the ${(max / 1e6).toFixed(0)} MB a ${what} may have.`, {
    file: path.basename(file),
    bytes: size,
    limit: max,
  });
}

function openError(file: string, what: string, e: unknown): CxrError | unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new CxrError('NOT_FOUND', `The ${what} was not found: ${file}.`, { file });
  if (code === 'EACCES' || code === 'EPERM') return new CxrError('INVALID_ARGUMENT', `Cannot read the ${what} ${file}: permission denied.`, { file });
  if (code === 'EISDIR') return new CxrError('NOT_A_FILE', `The ${what} ${path.basename(file)} is a folder, not a regular file.`, { file: path.basename(file) });
  if (code === 'ENXIO' || code === 'ENODEV') return new CxrError('NOT_A_FILE', `The ${what} ${path.basename(file)} is a device or socket, not a regular file.`, { file: path.basename(file) });
  return e;
}

/** Opens `file` for reading, refusing anything but a regular file; returns the descriptor and its size. */
export function openRegularSync(file: string, what: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (e) {
    throw openError(file, what, e);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw notAFile(file, what, stat);
  }
  return { fd, size: stat.size };
}

/** Reads a whole regular file (at most `maxBytes`) without ever blocking on a FIFO or a device. */
export function readRegularFileSync(file: string, what: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularSync(file, what);
  try {
    if (size > maxBytes) throw tooBig(file, what, size, maxBytes);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = fs.readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `bytes` bytes of a regular file. */
export function readRegularHeadSync(file: string, what: string, bytes: number): Buffer {
  const { fd, size } = openRegularSync(file, what);
  try {
    const buf = Buffer.alloc(Math.min(bytes, size));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export async function openRegular(file: string, what: string): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, OPEN_FLAGS);
  } catch (e) {
    throw openError(file, what, e);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw notAFile(file, what, stat);
  }
  return { handle, size: stat.size };
}

/** Async twin of readRegularFileSync: the read happens on libuv's pool, bounded, and never waits on a FIFO. */
export async function readRegularFile(file: string, what: string, maxBytes: number): Promise<Buffer> {
  const { handle, size } = await openRegular(file, what);
  try {
    if (size > maxBytes) throw tooBig(file, what, size, maxBytes);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await handle.read(buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await handle.close();
  }
}

export function readTextFileSync(file: string, what: string): string {
  return readRegularFileSync(file, what, MAX_TEXT_BYTES).toString('utf8');
}

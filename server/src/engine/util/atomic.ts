import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError, type CxrErrorCode } from '../errors';
import { faultPoint } from './faults';
import { readTextFileSync } from './safeRead';

/**
 * Writes a file so that readers see either the old or the new content, never a torn one. A failure of the disk
 * (full, read-only, no permission) is STORAGE_FAILED naming the folder, and leaves no temporary file behind; a
 * target that is a folder, or a parent that is a file, is OUTPUT_INVALID.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  ensureFolder(path.dirname(file));
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    throw new CxrError('OUTPUT_INVALID', `${file} is a folder; give a file name to write to (e.g. ${path.join(file, 'out.png')}).`, { file });
  }
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    faultPoint(`write-start ${file}`);
    const fd = fs.openSync(tmp, 'w');
    try {
      const half = Math.floor(bytes.length / 2);
      fs.writeSync(fd, bytes, 0, half);
      faultPoint(`write-half ${file}`);
      fs.writeSync(fd, bytes, half, bytes.length - half);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    faultPoint(`rename ${file}`);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw storageError(e, path.dirname(file));
  }
}

/** Creates a folder (and its parents); a file in the way is OUTPUT_INVALID, a disk failure STORAGE_FAILED. */
export function ensureFolder(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new CxrError('OUTPUT_INVALID', `${dir} cannot be created as a folder: it, or a folder above it, is a file. Give a folder path.`, { folder: dir });
    }
    throw storageError(e, dir);
  }
}

const STORAGE_REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission is denied',
  EPERM: 'the operation is not permitted',
  EIO: 'the disk reported an input/output error',
};

/** A file-system error of the disk itself as STORAGE_FAILED naming the folder; anything else unchanged. */
export function storageError(e: unknown, folder: string): unknown {
  if (e instanceof CxrError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const reason = code ? STORAGE_REASONS[code] : undefined;
  if (!reason) return e;
  return new CxrError('STORAGE_FAILED', `Could not write in ${folder}: ${reason}. Free space or choose a writable folder, then try again.`, {
    folder,
    errno: code,
  });
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Reads a JSON file the engine wrote. A FIFO or device in its place is refused (NOT_A_FILE); a file that does not
 * parse (half-written by another tool, edited by hand) is `invalidCode` with a sentence naming it.
 */
export function readJson<T>(file: string, invalidCode: CxrErrorCode = 'RUN_INVALID'): T {
  const text = readTextFileSync(file, path.basename(file));
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CxrError(invalidCode, `${file} is not valid JSON (${(e as Error).message}); it was damaged or written by another tool.`, { file });
  }
}

/**
 * Replaces directory `dir` with one filled by `fill`, atomically from a reader's point of view: the new content is
 * written into `<dir>.tmp-*` and swapped in by two renames (`dir` -> `<dir>.old-*`, tmp -> `dir`), so a crash at
 * any step leaves a complete folder in `dir` or in one of those siblings; recoverDir() puts it back.
 */
export function replaceDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(dir);
  ensureFolder(parent);
  const stamp = `${process.pid}-${Date.now()}`;
  const tmp = `${dir}.tmp-${stamp}`;
  const old = `${dir}.old-${stamp}`;
  try {
    faultPoint(`mkdir-tmp ${dir}`);
    fs.mkdirSync(tmp);
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw storageError(e, parent);
  }
  try {
    const hadOld = fs.existsSync(dir);
    faultPoint(`swap-1 ${dir}`);
    if (hadOld) fs.renameSync(dir, old);
    faultPoint(`swap-2 ${dir}`);
    fs.renameSync(tmp, dir);
    faultPoint(`cleanup ${dir}`);
    if (hadOld) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    // Put the old folder back if the swap got half-way, so a failure of the disk loses nothing.
    if (!fs.existsSync(dir) && fs.existsSync(old)) fs.renameSync(old, dir);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw storageError(e, parent);
  }
}

/** Leftovers of replaceDirAtomic for `dir`: `<name>.tmp-*` (newer) and `<name>.old-*` (older), newest first. */
export function swapLeftovers(dir: string): { tmp: string[]; old: string[] } {
  const parent = path.dirname(dir);
  const name = path.basename(dir);
  let entries: string[];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return { tmp: [], old: [] };
  }
  const pick = (kind: string) =>
    entries
      .filter((e) => e.startsWith(`${name}.${kind}-`) && fs.lstatSync(path.join(parent, e)).isDirectory())
      .sort((a, b) => stampOf(b) - stampOf(a))
      .map((e) => path.join(parent, e));
  return { tmp: pick('tmp'), old: pick('old') };
}

function stampOf(name: string): number {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/**
 * The folder to read `dir`'s content from after a crash: `dir` itself when present, else the newest complete
 * `.tmp-*` (written in full, the swap had not finished) or the newest complete `.old-*`, in the `prefer`red order.
 * null when none is. `complete` decides whether a candidate was written in full.
 */
export function recoverableDir(dir: string, complete: (candidate: string) => boolean, prefer: 'newer' | 'older' = 'newer'): string | null {
  if (fs.existsSync(dir)) return dir;
  const { tmp, old } = swapLeftovers(dir);
  return (prefer === 'newer' ? [...tmp, ...old] : [...old, ...tmp]).find(complete) ?? null;
}

/**
 * Puts a crashed swap right: when `dir` is missing, the best candidate (see recoverableDir) is renamed into place;
 * then every leftover sibling is removed. Returns what was done, in words, for the log.
 */
export function recoverDir(dir: string, complete: (candidate: string) => boolean, prefer: 'newer' | 'older' = 'newer'): string[] {
  const done: string[] = [];
  const source = recoverableDir(dir, complete, prefer);
  if (source && source !== dir) {
    fs.renameSync(source, dir);
    done.push(`restored ${path.basename(dir)}/ from ${path.basename(source)}`);
  }
  const { tmp, old } = swapLeftovers(dir);
  for (const leftover of [...tmp, ...old]) {
    fs.rmSync(leftover, { recursive: true, force: true });
    done.push(`removed ${path.basename(leftover)}`);
  }
  return done;
}

/** Removes `<file>.tmp-*` siblings left by writeFileAtomic calls that a crash interrupted. */
export function removeFileLeftovers(file: string): string[] {
  const parent = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  const removed: string[] = [];
  for (const e of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
    if (!e.startsWith(prefix)) continue;
    fs.rmSync(path.join(parent, e), { force: true });
    removed.push(`removed ${e}`);
  }
  return removed;
}

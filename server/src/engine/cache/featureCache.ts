import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { CacheInfo } from '../api';

/**
 * Bump when decoding or the frozen pass changes what they produce for the same inputs: old entries are then never
 * read again (they are keyed by it) and `cxr cache clear` removes them.
 */
const FORMAT_VERSION = 1;

/** `CXR_CACHE_DIR`, else the user's cache folder (never inside a repository). */
export function cacheDir(): string {
  if (process.env.CXR_CACHE_DIR) return path.resolve(process.env.CXR_CACHE_DIR);
  const home = os.homedir();
  const base =
    process.platform === 'win32' ? (process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'))
    : process.platform === 'darwin' ? path.join(home, 'Library', 'Caches')
    : (process.env.XDG_CACHE_HOME ?? path.join(home, '.cache'));
  return path.join(base, 'cxr-studio');
}

/** False when CXR_FEATURE_CACHE=off: nothing is read from or written to the cache, features, audit records or maps (benchmarks of the cold path). */
export function featureCacheEnabled(): boolean {
  return process.env.CXR_FEATURE_CACHE !== 'off';
}

/** Everything besides the file's bytes that decides a frozen output. */
export interface FrozenKeyParts {
  backbone: string;
  /** Last frozen layer (the cut point), and whether the output is pooled. */
  cutAt: string;
  imageSize: number;
  /** sha256 of the frozen layers' weights (see weightsHash). */
  weights: string;
}

/**
 * sha256 over the frozen part's weights, names and values, in layer order. The values are read asynchronously: a
 * synchronous read would stall the thread on a GPU backend (webgpu has none at all in Node once weights are on the GPU).
 */
export async function weightsHash(model: tfl.LayersModel): Promise<string> {
  const h = createHash('sha256');
  for (const layer of model.layers) {
    const values = layer.getWeights();
    for (const [i, w] of layer.weights.entries()) {
      h.update(`${w.originalName}:${values[i].shape.join('x')};`);
      const data = (await values[i].data()) as Float32Array;
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  return h.digest('hex');
}

/**
 * Content-addressed store of frozen-part outputs (pooled features or feature maps), one file per image:
 * <dir>/features/<key[0:2]>/<key>.f32, key = sha256(file bytes, decode parameters, weights, cut point, backbone).
 * A changed file, other weights or another cut point give another key, so stale entries are never read.
 */
export class FeatureCache {
  private readonly root: string;
  private readonly context: string;

  constructor(parts: FrozenKeyParts, dir = cacheDir()) {
    this.root = path.join(dir, 'features');
    this.context = JSON.stringify({ v: FORMAT_VERSION, ...parts });
  }

  keyOf(file: string): Promise<string> {
    return contentKey(this.context, file);
  }

  private fileFor(key: string): string {
    return entryFile(this.root, key, '.f32');
  }

  /** The stored output, or null (also for a damaged entry of the wrong length, which is then recomputed). */
  async get(key: string, length: number): Promise<Float32Array | null> {
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(this.fileFor(key));
    } catch {
      return null;
    }
    if (buf.byteLength !== length * 4) return null;
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(buf);
    return out;
  }

  /** Written under a temporary name and renamed, so a reader never sees half an entry. */
  async put(key: string, data: Float32Array): Promise<void> {
    await writeEntryAtomic(this.fileFor(key), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
}

/** A content-addressed entry's key: sha256 of what else decides it (`context`) and of the file's bytes. */
export async function contentKey(context: string, file: string): Promise<string> {
  const fileHash = createHash('sha256').update(await fs.promises.readFile(file)).digest('hex');
  return createHash('sha256').update(context).update(fileHash).digest('hex');
}

/** Where the entry of `key` lives under `root`: a folder per first two hex digits, so none grows too large. */
export function entryFile(root: string, key: string, suffix: string): string {
  return path.join(root, key.slice(0, 2), `${key}${suffix}`);
}

/** Writes a cache entry under a temporary name and renames it, so a reader never sees half an entry. */
export async function writeEntryAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(file);
  // One mkdir per folder and process (hundreds of entries share 256 folders); a folder removed since is made again.
  if (!madeDirs.has(dir)) await makeDir(dir);
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await fs.promises.writeFile(tmp, data);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await makeDir(dir);
    await fs.promises.writeFile(tmp, data);
  }
  await fs.promises.rename(tmp, file);
}

const madeDirs = new Set<string>();

async function makeDir(dir: string): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  madeDirs.add(dir);
}

/** Where the map cache (mapCache.ts) keeps its entries. */
export const MAPS_FOLDER = 'maps';

/** The cache's sub-folders and the entry files each holds (nothing else in `dir` is counted or removed). */
const PARTS = [
  { folder: 'features', suffix: '.f32' },
  { folder: 'audit', suffix: '.json' },
  { folder: MAPS_FOLDER, suffix: '.json' },
] as const;

function countEntries(dir: string, suffix: string): { entries: number; bytes: number } {
  let entries = 0;
  let bytes = 0;
  const walk = (d: string): void => {
    let list: fs.Dirent[];
    try {
      list = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith(suffix)) {
        entries++;
        bytes += fs.statSync(p).size;
      }
    }
  };
  walk(dir);
  return { entries, bytes };
}

/** Entries and bytes of the whole cache: frozen outputs, the dataset audit's per-image records, stored maps. */
export function cacheInfo(dir = cacheDir()): CacheInfo {
  const [features, audit, maps] = PARTS.map((p) => countEntries(path.join(dir, p.folder), p.suffix));
  return {
    dir,
    entries: features.entries + audit.entries + maps.entries,
    bytes: features.bytes + audit.bytes + maps.bytes,
    auditRecords: audit.entries,
    mapRecords: maps.entries,
  };
}

/** Removes the stored entries (only the cache's own sub-folders, never anything else in `dir`). */
export function clearCache(dir = cacheDir()): CacheInfo {
  const before = cacheInfo(dir);
  for (const p of PARTS) fs.rmSync(path.join(dir, p.folder), { recursive: true, force: true });
  return before;
}

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NormalisedMap } from '../explain/cam/normalise';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { MAX_WEIGHTS_BYTES, readRegularFile } from '../util/safeRead';
import { cacheDir, contentKey, entryFile, featureCacheEnabled, MAPS_FOLDER, writeEntryAtomic } from './featureCache';

/** Bump when decoding, the forward pass or the maps' arithmetic changes what an entry would hold. */
const FORMAT_VERSION = 1;

/** One image's prediction under one model: probabilities and every class's CAM and Grad-CAM (height x width). */
export interface StoredMaps {
  probabilities: number[];
  width: number;
  height: number;
  cam: NormalisedMap[];
  gradcam: NormalisedMap[];
}

/**
 * Content-addressed store of what a pooling + Dense head's forward pass gives for one image: an evaluation writes it
 * for every image it classifies, so a CAM grid or a heatmap of the same image under the same weights needs no pass.
 * Keyed by the image's bytes, the model's weight files' bytes and the input size: new weights or a changed file give
 * another key, and a stale entry is never read.
 */
export class MapCache {
  private readonly root: string;
  private readonly context: string;

  private constructor(modelKey: string, imageSize: number, dir: string) {
    this.root = path.join(dir, MAPS_FOLDER);
    this.context = JSON.stringify({ v: FORMAT_VERSION, model: modelKey, imageSize });
  }

  /**
   * The cache for the model whose weights manifest is `manifestFile`; null when the cache is off (CXR_FEATURE_CACHE=off).
   * The weight files it names are read (to hash) only where `policy` allows, as loading them would be.
   */
  static async forModel(manifestFile: string, imageSize: number, policy: PathPolicy = UNRESTRICTED, dir = cacheDir()): Promise<MapCache | null> {
    if (!featureCacheEnabled()) return null;
    return new MapCache(await modelFilesHash(manifestFile, policy), imageSize, dir);
  }

  keyOf(file: string): Promise<string> {
    return contentKey(this.context, file);
  }

  /** The stored maps, or null (also for a damaged entry, which is then computed again). */
  async get(key: string): Promise<StoredMaps | null> {
    try {
      return parseEntry(JSON.parse(await fs.promises.readFile(this.fileFor(key), 'utf8')));
    } catch {
      return null;
    }
  }

  async put(key: string, maps: StoredMaps): Promise<void> {
    const entry = { probabilities: maps.probabilities, width: maps.width, height: maps.height, cam: maps.cam.map(plainMap), gradcam: maps.gradcam.map(plainMap) };
    await writeEntryAtomic(this.fileFor(key), JSON.stringify(entry));
  }

  private fileFor(key: string): string {
    return entryFile(this.root, key, '.json');
  }
}

/** sha256 over the weights manifest and, in its order, every weight file it names. */
async function modelFilesHash(manifestFile: string, policy: PathPolicy): Promise<string> {
  const h = createHash('sha256');
  const text = await readRegularFile(manifestFile, 'weights manifest', MAX_WEIGHTS_BYTES);
  h.update(text);
  const groups = JSON.parse(text.toString('utf8')) as { paths?: unknown }[];
  for (const group of Array.isArray(groups) ? groups : []) {
    for (const rel of Array.isArray(group.paths) ? group.paths : []) {
      if (typeof rel !== 'string') continue;
      h.update(`${rel};`);
      const file = policy.check(path.resolve(path.dirname(manifestFile), rel), 'weight shard', `named by ${path.basename(manifestFile)}`);
      h.update(await readRegularFile(file, 'weights', MAX_WEIGHTS_BYTES));
    }
  }
  return h.digest('hex');
}

function plainMap(m: NormalisedMap): { map: number[]; allZero: boolean } {
  // Float32 values written as JSON numbers read back as the same float32 values.
  return { map: Array.from(m.map), allZero: m.allZero };
}

function parseEntry(raw: unknown): StoredMaps | null {
  const e = raw as Partial<Record<keyof StoredMaps, unknown>>;
  const positions = Number(e.width) * Number(e.height);
  const maps = (v: unknown): NormalisedMap[] | null => {
    if (!Array.isArray(v)) return null;
    const out: NormalisedMap[] = [];
    for (const m of v as { map?: unknown; allZero?: unknown }[]) {
      if (!Array.isArray(m.map) || m.map.length !== positions || typeof m.allZero !== 'boolean') return null;
      out.push({ map: Float32Array.from(m.map as number[]), allZero: m.allZero });
    }
    return out;
  };
  const probabilities = Array.isArray(e.probabilities) && e.probabilities.every((p) => typeof p === 'number') ? (e.probabilities as number[]) : null;
  const cam = maps(e.cam);
  const gradcam = maps(e.gradcam);
  if (!probabilities || !cam || !gradcam || !(positions > 0) || cam.length !== probabilities.length || gradcam.length !== probabilities.length) return null;
  return { probabilities, width: Number(e.width), height: Number(e.height), cam, gradcam };
}

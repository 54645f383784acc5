import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HASH_BITS } from '../audit/perceptualHash';
import { PROBE_SIZE, THUMB_SIZE, type IntensityStats, type ProbeRecord, type ProbeStore } from '../audit/imageProbe';
import { cacheDir, entryFile, writeEntryAtomic } from './featureCache';

/** Bump when probing changes what it measures for the same bytes: old records are then never read again. */
const FORMAT_VERSION = 1;
const STAT_KEYS: readonly (keyof IntensityStats)[] = [
  'mean', 'std', 'p05', 'p50', 'p95', 'borderMean', 'borderStd', 'centreMinusBorder', 'whiteShare', 'blackShare', 'borderTextLike',
];

/**
 * The dataset audit's per-image records on disk, next to the frozen outputs: <dir>/audit/<key[0:2]>/<key>.json,
 * key = sha256(format version, probe size, sha256 of the file's bytes). A changed file has other bytes, so another
 * key: its old record is never read. A damaged record reads as missing, and the image is probed again.
 */
export class ProbeCache implements ProbeStore {
  private readonly root: string;
  private readonly context: string;

  constructor(dir = cacheDir()) {
    this.root = path.join(dir, 'audit');
    this.context = JSON.stringify({ v: FORMAT_VERSION, probe: PROBE_SIZE, thumb: THUMB_SIZE });
  }

  private fileFor(sha256: string): string {
    const key = createHash('sha256').update(this.context).update(sha256).digest('hex');
    return entryFile(this.root, key, '.json');
  }

  async get(sha256: string): Promise<ProbeRecord | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.fileFor(sha256), 'utf8');
    } catch {
      return null;
    }
    try {
      return parseRecord(JSON.parse(text), sha256);
    } catch {
      return null;
    }
  }

  async put(record: ProbeRecord): Promise<void> {
    const json = {
      sha256: record.sha256,
      hash: Buffer.from(record.hash).toString('base64'),
      source: record.source,
      fileBytes: record.fileBytes,
      thumb: Buffer.from(record.thumb.buffer, record.thumb.byteOffset, record.thumb.byteLength).toString('base64'),
      stats: record.stats,
      colourfulness: record.colourfulness,
    };
    await writeEntryAtomic(this.fileFor(record.sha256), JSON.stringify(json));
  }
}

/** The stored record, or null when anything in it is not what a probe writes. */
function parseRecord(j: Record<string, unknown>, sha256: string): ProbeRecord | null {
  if (j.sha256 !== sha256 || typeof j.hash !== 'string' || typeof j.thumb !== 'string') return null;
  const hash = new Uint8Array(Buffer.from(j.hash, 'base64'));
  const thumbBytes = Buffer.from(j.thumb, 'base64');
  if (hash.length !== HASH_BITS || hash.some((b) => b > 1) || thumbBytes.length !== THUMB_SIZE * THUMB_SIZE * 4) return null;
  const thumb = new Float32Array(THUMB_SIZE * THUMB_SIZE);
  new Uint8Array(thumb.buffer).set(thumbBytes);
  const stats = j.stats as Record<string, unknown> | undefined;
  if (!stats || !STAT_KEYS.every((k) => Number.isFinite(stats[k]))) return null;
  const source = j.source as ProbeRecord['source'] | undefined;
  if (!source || typeof source.format !== 'string' || !(source.width > 0) || !(source.height > 0)) return null;
  if (!Number.isFinite(j.fileBytes) || !Number.isFinite(j.colourfulness)) return null;
  return { sha256, hash, source, fileBytes: j.fileBytes as number, thumb, stats: stats as unknown as IntensityStats, colourfulness: j.colourfulness as number };
}

import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { decodeImageBuffer, type DecodedImage } from '../data/decode';
import { MAX_IMAGE_BYTES, readRegularFile } from '../util/safeRead';
import { perceptualHash } from './perceptualHash';

/** Side of the grey thumbnail every audit measurement is taken on. */
export const PROBE_SIZE = 128;
/** Side of the thumbnail kept for the near-duplicate correlation. */
export const THUMB_SIZE = 32;
const BORDER = 16;

/** What the audit knows about one image, whatever its path: hashes and acquisition properties (the cached part). */
export interface ProbeRecord {
  sha256: string;
  hash: Uint8Array;
  source: DecodedImage['source'];
  fileBytes: number;
  /** Grey values in [0, 1], THUMB_SIZE x THUMB_SIZE, row-major: block means of the PROBE_SIZE thumbnail. */
  thumb: Float32Array;
  /** Intensity statistics of the PROBE_SIZE grey thumbnail. */
  stats: IntensityStats;
  /** Mean over pixels of (max - min) of R, G, B: 0 for any grey image. */
  colourfulness: number;
}

export interface ImageProbe extends ProbeRecord {
  file: string;
}

/** Where probe records of already-seen file contents are kept (the disk cache; see cache/probeCache.ts). */
export interface ProbeStore {
  get(sha256: string): Promise<ProbeRecord | null>;
  put(record: ProbeRecord): Promise<void>;
}

/**
 * Reads one image and measures it: decoded (through the one decoder) only when `store` does not already know these
 * bytes. The record is keyed by the sha256 of the bytes read here, and the pixels measured are those same bytes.
 */
export async function probeImage(file: string, store?: ProbeStore | null): Promise<ImageProbe> {
  const bytes = await readRegularFile(file, 'image', MAX_IMAGE_BYTES);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const known = store ? await store.get(sha256) : null;
  if (known) return { ...known, file };
  const record = measure(sha256, bytes.length, await decodeImageBuffer(bytes, PROBE_SIZE, path.basename(file)));
  await store?.put(record);
  return { ...record, file };
}

function measure(sha256: string, fileBytes: number, decoded: DecodedImage): ProbeRecord {
  const { grey, colourfulness } = greyAndColour(decoded.data);
  const thumb = boxDown(grey, PROBE_SIZE, PROBE_SIZE / THUMB_SIZE);
  return { sha256, hash: perceptualHash(thumb), source: decoded.source, fileBytes, thumb, stats: intensityStats(grey), colourfulness };
}

export function greyAndColour(rgb: Float32Array): { grey: Float32Array; colourfulness: number } {
  const n = rgb.length / 3;
  const grey = new Float32Array(n);
  let colour = 0;
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i];
    const g = rgb[3 * i + 1];
    const b = rgb[3 * i + 2];
    grey[i] = (r + g + b) / 3;
    colour += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return { grey, colourfulness: colour / n };
}

/** Averages factor x factor blocks. */
export function boxDown(grey: Float32Array, size: number, factor: number): Float32Array {
  const out = size / factor;
  const res = new Float32Array(out * out);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) res[Math.floor(y / factor) * out + Math.floor(x / factor)] += grey[y * size + x];
  const area = factor * factor;
  for (let i = 0; i < res.length; i++) res[i] /= area;
  return res;
}

/** Intensity statistics of the grey thumbnail: whole image, border band, centre, corners, text-like marks. */
export interface IntensityStats {
  mean: number;
  std: number;
  p05: number;
  p50: number;
  p95: number;
  borderMean: number;
  borderStd: number;
  centreMinusBorder: number;
  /** Share of pixels near white (>= 0.97): burned-in text, markers, labels. */
  whiteShare: number;
  /** Share of pixels near black (<= 0.03): padding, collimation. */
  blackShare: number;
  /** Share of border-band pixels that differ from their 3x3 neighbourhood by more than 0.2: small high-contrast marks such as text. */
  borderTextLike: number;
}

export function intensityStats(grey: Float32Array, size = PROBE_SIZE): IntensityStats {
  const n = grey.length;
  // The three order statistics by selection, not a full sort: the same values, a fraction of the time.
  const work = Float32Array.from(grey);
  const rank = (p: number) => Math.min(n - 1, Math.floor(p * n));
  const [p05, p50, p95] = selectRanks(work, [rank(0.05), rank(0.5), rank(0.95)]);
  let sum = 0;
  let sq = 0;
  let white = 0;
  let black = 0;
  for (const v of grey) {
    sum += v;
    sq += v * v;
    if (v >= 0.97) white++;
    if (v <= 0.03) black++;
  }
  const mean = sum / n;
  let bSum = 0;
  let bSq = 0;
  let bN = 0;
  let cSum = 0;
  let cN = 0;
  let text = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = grey[y * size + x];
      const border = x < BORDER || y < BORDER || x >= size - BORDER || y >= size - BORDER;
      if (border) {
        bSum += v;
        bSq += v * v;
        bN++;
        if (x > 0 && y > 0 && x < size - 1 && y < size - 1 && Math.abs(v - localMean(grey, size, x, y)) > 0.2) text++;
      } else if (x >= size / 4 && x < (3 * size) / 4 && y >= size / 4 && y < (3 * size) / 4) {
        cSum += v;
        cN++;
      }
    }
  }
  const borderMean = bSum / bN;
  return {
    mean,
    std: Math.sqrt(Math.max(0, sq / n - mean * mean)),
    p05,
    p50,
    p95,
    borderMean,
    borderStd: Math.sqrt(Math.max(0, bSq / bN - borderMean * borderMean)),
    centreMinusBorder: cSum / cN - borderMean,
    whiteShare: white / n,
    blackShare: black / n,
    borderTextLike: text / bN,
  };
}

/**
 * The values that would sit at `ranks` (ascending) if `values` were sorted, by quickselect (Hoare partitioning,
 * median-of-three pivot); `values` is reordered in place. Finite values only.
 */
export function selectRanks(values: Float32Array, ranks: readonly number[]): number[] {
  let lo = 0;
  return ranks.map((k) => {
    let left = lo;
    let right = values.length - 1;
    while (right > left) {
      const mid = (left + right) >>> 1;
      const a = values[left];
      const b = values[mid];
      const c = values[right];
      const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
      let i = left;
      let j = right;
      while (i <= j) {
        while (values[i] < pivot) i++;
        while (values[j] > pivot) j--;
        if (i <= j) {
          const t = values[i];
          values[i] = values[j];
          values[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) right = j;
      else if (k >= i) left = i;
      else break;
    }
    // Ranks come in ascending order: everything before k is no larger than the value at k.
    lo = k;
    return values[k];
  });
}

function localMean(grey: Float32Array, size: number, x: number, y: number): number {
  let s = 0;
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (dx || dy) s += grey[(y + dy) * size + x + dx];
  return s / 8;
}

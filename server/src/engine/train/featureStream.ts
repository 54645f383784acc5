import * as path from 'node:path';
import type { DatasetItem } from '../data/dataset';
import { decodeInThread, type ImageDecoder } from '../data/imageDecoder';
import { CxrError } from '../errors';
import { mapLimit, yieldToEventLoop } from '../util/concurrency';
import { elementCount, type FrozenPart } from './frozenPart';

/** Codes of a single bad file: the run goes on without it, and says so. */
export const SKIPPABLE_DECODE_ERRORS: ReadonlySet<string> = new Set(['CORRUPT_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE', 'NOT_A_FILE']);

/** Cache writes left in flight before the stream waits for them. */
const MAX_PENDING_STORES = 256;

export interface StreamOptions {
  imageSize: number;
  /** Images per frozen-part call. */
  chunk: number;
  /** Decodes in flight at once. */
  decodeConcurrency?: number;
  /** Where images are decoded (e.g. the worker pool); default: this thread. */
  decoder?: ImageDecoder;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Turns a decoded image into the network input (augmentation); default: as decoded. */
  transform?: (image: Float32Array, item: DatasetItem) => Float32Array;
  /** Looks up a stored output before decoding (the disk cache); a hit skips decoding and the frozen pass. */
  lookup?: (item: DatasetItem) => Promise<Float32Array | null>;
  /** Called with each freshly computed output (to store it). */
  store?: (item: DatasetItem, output: Float32Array) => Promise<void>;
}

export interface StreamedOutputs {
  /** The items whose images could be read, in input order. */
  items: DatasetItem[];
  /** items.length x prod(outputShape) floats, row i belongs to items[i]. */
  outputs: Float32Array;
  outputShape: number[];
  /** "file: reason" for each file left out. */
  skipped: string[];
  stats: StreamStats;
}

export interface StreamStats {
  /** Most decoded images held at any one time (decoding, waiting, or in the frozen pass). */
  peakImagesHeld: number;
  /** Outputs served by `lookup` without decoding. */
  hits: number;
  computed: number;
}

/**
 * Decode -> frozen part -> one small output row per image, in a bounded pipeline: at most two chunks of decoded
 * images exist at once (the one in the frozen pass and the next one decoding), so memory grows with the number of
 * images only by the output rows. Unreadable images are left out and named in `skipped`.
 */
export async function streamFrozenOutputs(items: readonly DatasetItem[], frozen: FrozenPart, opts: StreamOptions): Promise<StreamedOutputs> {
  const rowSize = elementCount(frozen.outputShape);
  // Written in place, then compacted over skipped rows: no second copy of the outputs.
  const outputs = new Float32Array(items.length * rowSize);
  const skippedAt: (string | undefined)[] = new Array(items.length);
  const stats: StreamStats = { peakImagesHeld: 0, hits: 0, computed: 0 };
  let held = 0;
  const take = (n: number): void => {
    held += n;
    stats.peakImagesHeld = Math.max(stats.peakImagesHeld, held);
  };
  const pixels = opts.imageSize * opts.imageSize * 3;

  type Decoded = { index: number; image: Float32Array }[];
  const decodeChunk = async (start: number): Promise<Decoded> => {
    const part = items.slice(start, start + opts.chunk);
    const got = await mapLimit(part, opts.decodeConcurrency ?? 4, async (item, k) => {
      if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled while decoding images.');
      const index = start + k;
      const stored = opts.lookup ? await opts.lookup(item) : null;
      if (stored) {
        outputs.set(stored, index * rowSize);
        stats.hits++;
        return null;
      }
      try {
        const decoded = await (opts.decoder ?? decodeInThread)(item.path, opts.imageSize);
        take(1);
        return { index, image: opts.transform ? opts.transform(decoded, item) : decoded };
      } catch (e) {
        if (e instanceof CxrError && SKIPPABLE_DECODE_ERRORS.has(e.code)) {
          skippedAt[index] = `${path.basename(item.path)}: ${e.message}`;
          return null;
        }
        throw e;
      }
    });
    return got.filter((g): g is { index: number; image: Float32Array } => g !== null);
  };

  // Stores are not awaited one by one: their file writes queue on libuv's pool behind the decodes, and waiting for
  // each held the frozen pass back (1.2 s of 2.7 over the 251 reference images). A bounded number stay in flight.
  let pendingStores: Promise<void>[] = [];
  const settleStores = async (): Promise<void> => {
    const settling = pendingStores;
    pendingStores = [];
    await Promise.all(settling);
  };

  let done = 0;
  let next: Promise<Decoded> | null = items.length > 0 ? decodeChunk(0) : null;
  for (let start = 0; next; start += opts.chunk) {
    const current = await next;
    next = start + opts.chunk < items.length ? decodeChunk(start + opts.chunk) : null;
    if (current.length > 0) {
      const batch = new Float32Array(current.length * pixels);
      current.forEach((d, k) => batch.set(d.image, k * pixels));
      const out = await frozen.run(batch, current.length);
      for (let k = 0; k < current.length; k++) {
        const row = out.subarray(k * rowSize, (k + 1) * rowSize);
        outputs.set(row, current[k].index * rowSize);
        stats.computed++;
        if (opts.store) {
          const stored = opts.store(items[current[k].index], row);
          stored.catch(() => {}); // a failure surfaces where the stores are settled, not as an unhandled rejection
          pendingStores.push(stored);
        }
      }
      held -= current.length;
      if (pendingStores.length >= MAX_PENDING_STORES) await settleStores();
    }
    done = Math.min(start + opts.chunk, items.length);
    opts.onProgress?.(done, items.length);
    await yieldToEventLoop();
  }
  if (next) await next;
  await settleStores();

  const kept: DatasetItem[] = [];
  const skipped: string[] = [];
  items.forEach((item, i) => {
    const reason = skippedAt[i];
    if (reason !== undefined) {
      skipped.push(reason);
      return;
    }
    if (kept.length !== i) outputs.copyWithin(kept.length * rowSize, i * rowSize, (i + 1) * rowSize);
    kept.push(item);
  });
  return { items: kept, outputs: outputs.subarray(0, kept.length * rowSize), outputShape: frozen.outputShape, skipped, stats };
}

/** Copies rows `indices` of a row-major matrix into one new buffer (a batch built on the host, no tf.gather). */
export function gatherRows(matrix: Float32Array, rowSize: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * rowSize);
  indices.forEach((r, k) => out.set(matrix.subarray(r * rowSize, (r + 1) * rowSize), k * rowSize));
  return out;
}

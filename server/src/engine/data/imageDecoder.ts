import { applyTransform, type AffineTransform } from './augment';
import { decodeImage } from './decode';
import { DecodePool, decodeWorkerCount } from './decodePool';

/** Decoded (and, given a transform, transformed) network input of one file: size x size RGB in [0, 1]. */
export type ImageDecoder = (file: string, size: number, transform?: AffineTransform) => Promise<Float32Array>;

/** Decodes in the calling thread. */
export const decodeInThread: ImageDecoder = async (file, size, transform) => {
  const data = (await decodeImage(file, size)).data;
  return transform ? applyTransform(data, size, transform) : data;
};

/** Below this many images a pool's start (workers load sharp and the decoder) costs more than it saves. */
export const POOL_MIN_IMAGES = 64;

/** The pool for `images` images (at least POOL_MIN_IMAGES, or CXR_DECODE_WORKERS set), else this thread. */
export function decoderFor(images: number): { decode: ImageDecoder; workers: () => number; close: () => Promise<void> } {
  if (images >= POOL_MIN_IMAGES || process.env.CXR_DECODE_WORKERS !== undefined) return pooledDecoder();
  return { decode: decodeInThread, workers: () => 0, close: async () => {} };
}

/**
 * Decodes on a pool of worker threads (one per core, CXR_DECODE_WORKERS overrides; 0 = in this thread), started on
 * the first image: a run whose images all come from the feature cache starts no worker. Falls back to this thread
 * where the worker script is missing. `close` ends the workers.
 */
export function pooledDecoder(workers = decodeWorkerCount()): { decode: ImageDecoder; workers: () => number; close: () => Promise<void> } {
  let pool: DecodePool | null | undefined;
  return {
    decode: async (file, size, transform) => {
      if (pool === undefined) pool = DecodePool.create(workers);
      return pool ? (await pool.decode(file, size, transform)).data : decodeInThread(file, size, transform);
    },
    workers: () => pool?.workers ?? 0,
    close: async () => {
      await pool?.close();
    },
  };
}

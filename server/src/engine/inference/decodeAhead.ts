import { decodeImage, type DecodedImage } from '../data/decode';
import { CxrError } from '../errors';
import { SKIPPABLE_DECODE_ERRORS } from '../train/featureStream';
import { mapLimit } from '../util/concurrency';

/** One file of a chunk: its decoded image, or the typed error that says why it cannot be read. */
export type DecodeAttempt = { file: string; image: DecodedImage } | { file: string; error: CxrError };

export interface DecodeAheadOptions {
  size: number;
  /** Files per chunk handed to `consume`. */
  chunk: number;
  /** Decodes in flight at once; default the whole chunk, queued on libuv's pool at once so that it decodes on while
   * ONNX Runtime holds this thread (with 4 at a time, the rest waited for the thread). */
  concurrency?: number;
  /** Unreadable files (damaged, unsupported, too large, not a file) come as errors instead of failing the call. */
  skipUnreadable?: boolean;
  signal?: AbortSignal;
}

/**
 * Decodes `files` a chunk at a time and hands each chunk to `consume` in order, while the next chunk is already
 * decoding: ONNX Runtime holds this thread while it runs a batch, and sharp decodes on libuv's threads meanwhile.
 * At most two chunks of decoded images exist at once.
 */
export async function forEachDecodedChunk(
  files: readonly string[],
  opts: DecodeAheadOptions,
  consume: (attempts: DecodeAttempt[], start: number) => Promise<void>,
): Promise<void> {
  const decodeChunk = (start: number): Promise<DecodeAttempt[]> =>
    mapLimit(files.slice(start, start + opts.chunk), opts.concurrency ?? opts.chunk, async (file): Promise<DecodeAttempt> => {
      if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
      try {
        return { file, image: await decodeImage(file, opts.size) };
      } catch (e) {
        if (opts.skipUnreadable && e instanceof CxrError && SKIPPABLE_DECODE_ERRORS.has(e.code)) return { file, error: e };
        throw e;
      }
    });
  let next: Promise<DecodeAttempt[]> | null = files.length > 0 ? decodeChunk(0) : null;
  try {
    for (let start = 0; next; start += opts.chunk) {
      const current = await next;
      next = start + opts.chunk < files.length ? decodeChunk(start + opts.chunk) : null;
      if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
      await consume(current, start);
    }
  } finally {
    // A failure in `consume` leaves the chunk decoding ahead: let it settle so its rejection is not unhandled.
    await next?.catch(() => undefined);
  }
}

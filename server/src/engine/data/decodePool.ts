import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CxrError, type CxrErrorCode } from '../errors';
import type { AffineTransform } from './augment';
import type { DecodedImage } from './decode';

export interface DecodeTask {
  id: number;
  file: string;
  size: number;
  /** Applied to the decoded pixels in the worker (an augmentation drawn, in order, by the caller). */
  transform?: AffineTransform;
}

export type DecodeReply =
  | { id: number; ok: true; data: Float32Array; source: DecodedImage['source'] }
  | { id: number; ok: false; error: { code: CxrErrorCode; message: string; details?: Record<string, unknown>; diagnostic?: string } };

interface Pending {
  task: DecodeTask;
  resolve: (image: { data: Float32Array; source: DecodedImage['source'] }) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
}

/** Decoding workers to use: CXR_DECODE_WORKERS (0 = decode in the calling thread), else one per core. */
export function decodeWorkerCount(): number {
  const set = process.env.CXR_DECODE_WORKERS;
  if (set !== undefined && /^\d+$/.test(set)) return Number(set);
  return os.availableParallelism();
}

/**
 * A pool of worker threads that decode (and optionally transform) images through server/src/engine/data/decode.ts,
 * one image per worker at a time. Each call gets its own image back, so callers keep their order; a bad file fails
 * only its own call, with the decoder's typed error; a worker that dies fails its one image and is replaced.
 * Memory is bounded: at most `maxQueued` images wait for a worker, further calls wait for room.
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private nextId = 0;
  private closed = false;
  /** Workers lost in a row without a reply in between: a worker that cannot even start is not restarted forever. */
  private deathsInARow = 0;
  private broken: string | null = null;

  private constructor(
    readonly workers: number,
    private readonly script: WorkerScript,
    private readonly maxQueued: number,
  ) {
    for (let i = 0; i < workers; i++) this.slots.push(this.spawn());
  }

  /** A pool of `workers` threads, or null when workers <= 0 or the worker script is not there (decode in-thread). */
  static create(workers = decodeWorkerCount(), maxQueued = 4 * Math.max(1, workers)): DecodePool | null {
    if (workers <= 0) return null;
    const script = workerScript();
    return script ? new DecodePool(workers, script, maxQueued) : null;
  }

  async decode(file: string, size: number, transform?: AffineTransform): Promise<{ data: Float32Array; source: DecodedImage['source'] }> {
    while (this.queue.length >= this.maxQueued && !this.closed) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (this.closed) throw new CxrError('CANCELLED', 'The decoding pool was closed.');
    if (this.broken) throw new CxrError('INTERNAL', `The decoding workers cannot run (${this.broken}).`);
    return new Promise((resolve, reject) => {
      this.queue.push({ task: { id: this.nextId++, file, size, transform }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new CxrError('CANCELLED', 'The decoding pool was closed.'));
    this.roomWaiters.splice(0).forEach((r) => r());
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy || this.queue.length === 0) continue;
      slot.busy = this.queue.shift()!;
      slot.worker.ref(); // an image in flight keeps the process alive; an idle pool does not
      slot.worker.postMessage(slot.busy.task);
      this.roomWaiters.shift()?.();
    }
  }

  private spawn(): Slot {
    const worker = this.script.start();
    const slot: Slot = { worker, busy: null };
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const pending = slot.busy;
      if (!pending || pending.task.id !== reply.id) return;
      slot.busy = null;
      worker.unref();
      this.deathsInARow = 0;
      if (reply.ok) pending.resolve({ data: reply.data, source: reply.source });
      else pending.reject(new CxrError(reply.error.code, reply.error.message, reply.error.details).withDiagnostic(reply.error.diagnostic));
      this.dispatch();
    });
    const lost = (why: string): void => {
      if (this.closed) return;
      const pending = slot.busy;
      slot.busy = null;
      const index = this.slots.indexOf(slot);
      if (index >= 0 && ++this.deathsInARow >= MAX_DEATHS_IN_A_ROW) {
        this.broken = why;
        this.slots.splice(index, 1);
        for (const p of this.queue.splice(0)) p.reject(new CxrError('INTERNAL', `The decoding workers cannot run (${why}).`));
        this.roomWaiters.splice(0).forEach((r) => r());
      } else if (index >= 0) {
        this.slots[index] = this.spawn();
      }
      pending?.reject(new CxrError('INTERNAL', `The decoding worker stopped while reading ${path.basename(pending.task.file)} (${why}); the other images go on.`, { file: path.basename(pending.task.file) }));
      this.dispatch();
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return slot;
  }
}

const MAX_DEATHS_IN_A_ROW = 3;

interface WorkerScript {
  start(): Worker;
}

/**
 * decodeWorker.js beside the bundle (dist/), or decodeWorker.ts from source through tsx's require hook (as the
 * training worker does: on Node 20 `execArgv: ['--import', 'tsx']` alone does not load a .ts worker entry).
 */
function workerScript(): WorkerScript | null {
  if (path.extname(__filename) !== '.ts') {
    const file = path.join(__dirname, 'decodeWorker.js');
    return fs.existsSync(file) ? { start: () => new Worker(file) } : null;
  }
  const entry = path.join(__dirname, 'decodeWorker.ts');
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`;
  return { start: () => new Worker(code, { eval: true, execArgv: [] }) };
}

import * as path from 'node:path';
import * as readline from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { ActiveTraining } from '../../../common/src/protocol';
import type { BackendName, TrainEvent, TrainRequest, TrainResult } from '../engine/api';
import { CxrError } from '../engine/errors';
import { markInterrupted } from '../engine/runStore';
import type { TrainWorkerData, WorkerToHost } from './trainWorkerMessages';

export interface TrainingHostOptions {
  backend?: BackendName;
  log: (msg: string) => void;
}

interface Running {
  runDir: string;
  worker: Worker;
  progress: ActiveTraining;
  /** Set when the host itself stopped the worker, to say why instead of "unexpectedly". */
  killedBecause?: string;
}

/**
 * Runs one training at a time in a worker thread and relays its events. A worker that dies (crash, out of memory,
 * terminated) fails the training with a clear error and leaves the run marked 'interrupted', resumable from its
 * last finished epoch.
 */
export class TrainingHost {
  private current: Running | null = null;

  constructor(private readonly opts: TrainingHostOptions) {}

  get active(): ActiveTraining | null {
    return this.current ? { ...this.current.progress } : null;
  }

  isTraining(runDir: string): boolean {
    return this.current !== null && this.current.runDir === path.resolve(runDir);
  }

  /** Throws BUSY while a training runs. */
  assertIdle(): void {
    if (this.current) {
      throw new CxrError(
        'BUSY',
        `Another training is running (${path.basename(this.current.runDir)}). Wait for it to finish or cancel it first.`,
        { runDir: this.current.runDir },
      );
    }
  }

  start(request: TrainRequest, onEvent: (e: TrainEvent) => void, allowedRoots: string[]): Promise<TrainResult> {
    this.assertIdle();
    const runDir = path.resolve(request.out);
    const data: TrainWorkerData = { request, backend: this.opts.backend, allowedRoots };
    const worker = startWorker(data);
    for (const stream of [worker.stdout, worker.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => this.opts.log(`[training] ${line}`));
    }
    const running: Running = { runDir, worker, progress: { runDir, epoch: 0, epochs: request.epochs ?? 0 } };
    this.current = running;

    return new Promise<TrainResult>((resolve, reject) => {
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        if (this.current === running) this.current = null;
        void worker.terminate();
        finish();
      };
      const died = (why: string): void =>
        settle(() => {
          const stopped = running.killedBecause ? `stopped (${running.killedBecause})` : `stopped unexpectedly (${why})`;
          try {
            markInterrupted(runDir, `Training worker ${stopped}.`);
          } catch (e) {
            this.opts.log(`Could not mark ${runDir} interrupted: ${e instanceof Error ? e.message : String(e)}`);
          }
          reject(
            new CxrError(
              'INTERNAL',
              `The training worker ${stopped}. The run is marked interrupted; resume it to continue from its last finished epoch.`,
              { runDir },
            ),
          );
        });

      worker.on('message', (m: WorkerToHost) => {
        switch (m.type) {
          case 'event':
            trackProgress(running.progress, m.event);
            onEvent(m.event);
            break;
          case 'log':
            this.opts.log(m.message);
            break;
          case 'done':
            settle(() => resolve(m.result));
            break;
          case 'failed':
            settle(() => reject(new CxrError(m.error.code, m.error.message, m.error.details)));
            break;
        }
      });
      worker.on('error', (e) => died(e.message));
      worker.on('exit', (code) => died(`exit code ${code}`));
    });
  }

  /** Asks the active training to stop after its current batch. false when nothing (or another run) trains. */
  cancel(runDir?: string): boolean {
    if (!this.current) return false;
    if (runDir !== undefined && path.resolve(runDir) !== this.current.runDir) return false;
    this.current.worker.postMessage({ type: 'cancel' });
    return true;
  }

  /**
   * Stops the worker abruptly, as a crash would: the run is left interrupted and resumable. `reason` goes into the
   * error and status message; without one the stop reads as unexpected (the protocol tests use that to simulate a crash).
   */
  async kill(reason?: string): Promise<boolean> {
    if (!this.current) return false;
    this.current.killedBecause = reason;
    await this.current.worker.terminate();
    return true;
  }
}

/**
 * Starts the worker script beside this module: trainWorker.js when bundled (dist/), trainWorker.ts from source.
 * From source, `execArgv: ['--import', 'tsx']` is not enough on Node 20 (the worker's entry still fails with
 * ERR_UNKNOWN_FILE_EXTENSION), so a one-line CommonJS entry registers tsx's require hook and loads the .ts file.
 */
function startWorker(workerData: TrainWorkerData): Worker {
  const options = { workerData, stdout: true, stderr: true };
  if (path.extname(__filename) !== '.ts') return new Worker(path.join(__dirname, 'trainWorker.js'), options);
  const entry = path.join(__dirname, 'trainWorker.ts');
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(entry)});`;
  return new Worker(code, { ...options, eval: true, execArgv: [] });
}

function trackProgress(progress: ActiveTraining, e: TrainEvent): void {
  if (e.kind === 'batch' || e.kind === 'epoch') {
    progress.epoch = e.epoch;
    progress.epochs = e.epochs;
  }
}


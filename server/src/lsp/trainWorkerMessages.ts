import type { BackendName, TrainEvent, TrainRequest, TrainResult } from '../engine/api';
import type { CxrErrorCode } from '../engine/errors';

/** What the training worker is started with (its workerData). */
export interface TrainWorkerData {
  request: TrainRequest;
  backend?: BackendName;
  /** The backend's allowed roots when the training started: the worker's engine holds every file to them. */
  allowedRoots: string[];
}

export type HostToWorker = { type: 'cancel' };

export type WorkerToHost =
  | { type: 'event'; event: TrainEvent }
  | { type: 'log'; message: string }
  | { type: 'done'; result: TrainResult }
  | { type: 'failed'; error: { code: CxrErrorCode; message: string; details?: Record<string, unknown> } };

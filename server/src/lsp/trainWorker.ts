/**
 * Worker-thread entry: trains one run with its own Engine (its own tfjs and wasm instance), so the backend's main
 * thread keeps answering requests. Events stream to the host; a 'cancel' message aborts between batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../engine/engine';
import { toCxrError } from '../engine/errors';
import { AllowedRoots } from '../engine/security/pathPolicy';
import type { HostToWorker, TrainWorkerData, WorkerToHost } from './trainWorkerMessages';

const port = parentPort;
if (!port) throw new Error('trainWorker must run in a worker thread.');
const post = (m: WorkerToHost): void => port.postMessage(m);

const { request, backend, allowedRoots } = workerData as TrainWorkerData;
const abort = new AbortController();
port.on('message', (m: HostToWorker) => {
  if (m.type === 'cancel') abort.abort();
});

const engine = new Engine({ backend, paths: new AllowedRoots(allowedRoots), log: (message) => post({ type: 'log', message }) });
engine.train(request, (event) => post({ type: 'event', event }), abort.signal).then(
  (result) => post({ type: 'done', result }),
  (e: unknown) => {
    const err = toCxrError(e);
    if (err.code === 'INTERNAL' && e instanceof Error && e.stack) post({ type: 'log', message: e.stack });
    post({ type: 'failed', error: { code: err.code, message: err.message, details: err.details } });
  },
);

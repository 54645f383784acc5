import { parentPort } from 'node:worker_threads';
import { CxrError } from '../errors';
import { applyTransform } from './augment';
import { decodeImage } from './decode';
import type { DecodeReply, DecodeTask } from './decodePool';

/** One decoding worker of the pool: decodes through the one decoder, applies the transform it is given, sends the pixels back. */
parentPort!.on('message', async (task: DecodeTask) => {
  let reply: DecodeReply;
  try {
    const decoded = await decodeImage(task.file, task.size);
    const data = task.transform ? applyTransform(decoded.data, task.size, task.transform) : decoded.data;
    reply = { id: task.id, ok: true, data, source: decoded.source };
    parentPort!.postMessage(reply, [data.buffer as ArrayBuffer]);
    return;
  } catch (e) {
    const error = e instanceof CxrError ? { code: e.code, message: e.message, details: e.details, diagnostic: e.diagnostic } : { code: 'INTERNAL' as const, message: e instanceof Error ? e.message : String(e) };
    reply = { id: task.id, ok: false, error };
  }
  parentPort!.postMessage(reply);
});

/**
 * The backend runs at most two heavy requests (evaluate, predict, explain, audits) at once; the others wait their
 * turn and then succeed, and a light request (cxr/backendStatus) is answered while they wait. Six evaluations of the
 * covid19-dataset's 317 images are sent at once to the real backend process over JSON-RPC.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { Engine } from '../../server/src/engine/engine';
import { CI_TINY, COVID19, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';
import { BackendProcess } from './backendProcess';

const scratch = scratchDirFactory();
let work: string;
let run: string;
let backend: BackendProcess;

before(async () => {
  requireShared(CI_TINY);
  requireShared(COVID19);
  work = scratch('heavy');
  run = path.join(work, 'run');
  const r = await new Engine().train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 2 });
  assert.equal(r.status, 'completed');
  backend = await BackendProcess.start({ roots: [work, COVID19] });
});

after(async () => {
  await backend?.stop();
});

it('six heavy requests at once: two run, four wait and then succeed, and status is answered meanwhile', async () => {
  const pending = new Set<number>();
  const evaluations = Array.from({ length: 6 }, (_, i) => {
    pending.add(i);
    return backend.conn
      .sendRequest(protocol.evaluate, { run, data: COVID19, split: 'all', outDir: path.join(work, `eval-${i}`) })
      .finally(() => pending.delete(i));
  });
  let maxActive = 0;
  let maxQueued = 0;
  let answeredWhileQueued = 0;
  while (pending.size > 0) {
    const status = await backend.conn.sendRequest(protocol.backendStatus);
    const heavy = status.heavyRequests;
    assert.ok(heavy, 'backendStatus has no heavyRequests diagnostics');
    assert.equal(heavy.limit, 2);
    maxActive = Math.max(maxActive, heavy.active);
    maxQueued = Math.max(maxQueued, heavy.queued);
    if (heavy.queued > 0) answeredWhileQueued++;
    await new Promise((r) => setTimeout(r, 25));
  }
  const results = await Promise.all(evaluations);
  assert.ok(results.every((r) => r.n === 317), `image counts: ${results.map((r) => r.n).join(', ')}`);
  assert.equal(maxActive, 2, 'never more than two heavy requests at once, and two did run together');
  assert.ok(maxQueued >= 1, 'no request ever waited its turn');
  assert.ok(answeredWhileQueued >= 1, 'the light request was not answered while heavy ones waited');
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { CI_TINY, MOBILENET_DIR, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

function readStatus(runDir: string): { status: string; epochsRun: number } {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8'));
}

describe('backend process: crashes and resume', () => {
  let runs: string;
  let roots: string[];
  const backends: BackendProcess[] = [];
  const start = async (): Promise<BackendProcess> => {
    const b = await BackendProcess.start({ roots, trusted: true });
    backends.push(b);
    return b;
  };
  const train = (out: string, extra: Partial<protocol.TrainParams> = {}): protocol.TrainParams => ({
    data: CI_TINY, out, backbone: 'mobilenet_v2', weights: MOBILENET_NOTOP_MANIFEST, epochs: 3, batchSize: 3, seed: 3, ...extra,
  });

  before(() => {
    requireShared(CI_TINY);
    requireShared(MOBILENET_NOTOP_MANIFEST);
    runs = tmpDir('proto-recovery');
    roots = [runs, path.dirname(CI_TINY), MOBILENET_DIR];
  });

  after(async () => {
    for (const b of backends) await b.stop();
    if (runs) fs.rmSync(runs, { recursive: true, force: true });
  });

  it('resumes in a new process a run whose backend was killed with SIGKILL mid-training', async () => {
    const out = path.join(runs, 'killed');
    const epochs = 10; // a ci-tiny head epoch takes milliseconds: the kill lands an epoch or two after the event
    const first = await start();
    const pending = first.conn.sendRequest(protocol.train, train(out, { epochs })).catch((e: unknown) => e);
    await first.waitForEvent((e) => e.runDir === out && e.event.kind === 'epoch' && e.event.epoch === 1);
    await first.kill9();
    assert.ok(!first.alive);
    assert.ok((await pending) instanceof Error, 'the request of a killed backend cannot succeed');

    // The checkpoint is what a resume continues from; status.json, written after it each epoch, may be one behind.
    const onDisk = readStatus(out);
    const checkpointed = (JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8')) as { epochsDone: number }).epochsDone;
    assert.ok(onDisk.epochsRun >= 1 && onDisk.epochsRun <= checkpointed && checkpointed < epochs, `epochsRun on disk: ${onDisk.epochsRun}, checkpointed ${checkpointed}`);

    const second = await start();
    const listed = await second.conn.sendRequest(protocol.listRuns, { runsRoot: runs });
    assert.equal(listed.find((r) => r.runDir === out)?.status, 'interrupted');

    // Resuming needs only the run folder: data and backbone come from its config.json.
    const result = await second.conn.sendRequest(protocol.train, { out, resume: true });
    assert.equal(result.status, 'completed');
    assert.equal(result.epochsRun, epochs);
    assert.deepEqual(result.history.map((h) => h.epoch), Array.from({ length: epochs }, (_, i) => i + 1));
    const resumedEpochs = second.eventsFor(out).flatMap((e) => (e.kind === 'epoch' ? [e.epoch] : []));
    assert.equal(resumedEpochs[0], checkpointed + 1, 'resume did not continue after the last checkpointed epoch');
    assert.equal(readStatus(out).status, 'completed');
  });

  it('fails the request clearly when the training worker dies, marks the run interrupted, and keeps serving', async () => {
    const backend = await start();
    const out = path.join(runs, 'worker-died');
    const epochs = 10; // a ci-tiny head epoch takes milliseconds: the worker dies an epoch or two after the event
    const pending = expectCxrError(() => backend.conn.sendRequest(protocol.train, train(out, { epochs })));
    // Once epoch 1 is checkpointed and epoch 2 under way.
    await backend.waitForEvent((e) => e.runDir === out && e.event.kind === 'batch' && e.event.epoch === 2);
    assert.deepEqual(await backend.conn.sendRequest('cxr/_test/killTrainingWorker'), { killed: true });

    const err = await pending;
    assert.equal(err.code, 'INTERNAL');
    assert.match(err.message, /training worker stopped unexpectedly/);
    assert.match(err.message, /resume/);
    assert.equal(err.details?.runDir, out);
    assert.equal(readStatus(out).status, 'interrupted');
    const runBefore = readStatus(out).epochsRun;
    assert.ok(runBefore >= 1 && runBefore < epochs, `epochs run before the worker died: ${runBefore}`);
    assert.ok(backend.alive);
    const status = await backend.conn.sendRequest(protocol.backendStatus);
    assert.equal(status.busy, false);

    const resumed = await backend.conn.sendRequest(protocol.train, { out, resume: true });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.epochsRun, epochs);
    assert.deepEqual(resumed.history.map((h) => h.epoch), Array.from({ length: epochs }, (_, i) => i + 1));
  });
});

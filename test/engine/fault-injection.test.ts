import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { TrainEvent, TrainRequest } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { repoRoot } from '../../server/src/engine/locations';
import { mapLimit } from '../../server/src/engine/util/concurrency';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

/**
 * Training killed (SIGKILL, as a power cut) at every write step of the epoch-2 checkpoint (and at the swap steps of
 * the best model, the history and the status written beside it), in a child process, through the CXR_FAULT hook of
 * server/src/engine/util/faults.ts. Every state must resume to a completed run that lost at most the epoch being
 * written; disk-full and read-only failures must be typed errors naming the folder, with status.json saying failed.
 */

const scratchDir = scratchDirFactory();
const CHILD = path.join(repoRoot(), 'test', 'helpers', 'engineChild.ts');

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  last: { result?: unknown; error?: { code: string; message: string } } | null;
}

function runChild(op: 'train' | 'evaluate', req: object, env: Record<string, string>): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, op, JSON.stringify(req)], {
      cwd: repoRoot(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = out.trim().split('\n').pop();
      let last = null;
      try {
        last = line ? JSON.parse(line) : null;
      } catch {
        // killed mid-line
      }
      resolve({ code, signal, last });
    });
  });
}

const trainReq = (out: string): TrainRequest => ({ data: CI_TINY, out, backbone: 'mobilenet_v2', epochs: 2, imageSize: 32, seed: 5 });

/** Step numbers (1-based, as faults.ts counts them) of the writes that end epoch 2, with their labels. */
let epoch2Steps: { n: number; label: string }[] = [];

before(async () => {
  requireShared(CI_TINY);
  const dir = scratchDir('trace');
  const trace = path.join(dir, 'trace.txt');
  const out = path.join(dir, 'run');
  const r = await runChild('train', trainReq(out), { CXR_FAULT_TRACE: trace });
  assert.equal(r.code, 0, JSON.stringify(r.last));
  const steps = fs.readFileSync(trace, 'utf8').trim().split('\n').map((l) => {
    const [n, ...rest] = l.split(' ');
    return { n: Number(n), label: rest.join(' ').replace(out, '<run>') };
  });
  // status.json is written 'running' at the start and after each epoch: epoch 2's writes follow the second one.
  const statusRenames = steps.filter((s) => s.label === 'rename <run>/status.json');
  assert.ok(statusRenames.length >= 4, steps.map((s) => s.label).join('\n'));
  const from = statusRenames[1].n;
  const to = statusRenames[2].n;
  epoch2Steps = steps.filter((s) => s.n > from && s.n <= to);
  assert.ok(epoch2Steps.some((s) => s.label.includes('<run>/checkpoint')), 'the epoch-2 window holds the checkpoint writes');
});

describe('training killed at every write step of a checkpoint', () => {
  it('resumes from every state, losing at most the epoch being written, leaving nothing behind', async () => {
    // Every step that writes the checkpoint; of the best model's swap the two renames (its other steps leave the
    // same states as the checkpoint's, which the run-safety tests also build by hand).
    const targets = epoch2Steps.filter((s) => s.label.includes('<run>/checkpoint') || /^swap-[12] <run>\/model$/.test(s.label));
    // The frozen layers' shard and an unchanged manifest are hard-linked from the previous save: those steps too.
    assert.ok(targets.length >= 12 && targets.some((s) => s.label.startsWith('link <run>/checkpoint')), targets.map((s) => s.label).join('\n'));
    const outcomes = await mapLimit(targets, 3, async (step) => {
      const out = path.join(scratchDir('kill'), 'run');
      const killed = await runChild('train', trainReq(out), { CXR_FAULT: `kill@${step.n}` });
      return { step, out, killed };
    });
    const engine = new Engine();
    for (const { step, out, killed } of outcomes) {
      assert.equal(killed.signal, 'SIGKILL', `step ${step.n} ${step.label}: the child was not killed (${JSON.stringify(killed)})`);
      const events: TrainEvent[] = [];
      const resumed = await engine.train({ ...trainReq(out), resume: true }, (e) => events.push(e));
      const what = `killed at step ${step.n} (${step.label})`;
      assert.equal(resumed.status, 'completed', what);
      assert.deepEqual(resumed.history.map((h) => h.epoch), [1, 2], what);
      const retrained = events.filter((e) => e.kind === 'epoch').map((e) => (e as { epoch: number }).epoch);
      assert.ok(retrained.every((e) => e === 2), `${what}: re-trained epochs ${retrained.join(',')} (lost more than one)`);
      assert.deepEqual(fs.readdirSync(out).filter((e) => /\.(tmp|old)-/.test(e)), [], `${what}: leftovers`);
      assert.deepEqual(fs.readdirSync(path.join(out, 'checkpoint')).sort(), ['frozen.bin', 'state.json', 'weights.bin', 'weights_manifest.json'], what);
      assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'status.json'), 'utf8')).status, 'completed', what);
      const evaluation = await engine.evaluate({ run: out, data: CI_TINY });
      assert.equal(evaluation.n, 6, what);
    }
  });
});

describe('disk full and read-only while training or evaluating', () => {
  for (const kind of ['enospc', 'erofs'] as const) {
    it(`${kind} in the middle of the checkpoint: STORAGE_FAILED naming the folder, status failed, no partial files, resumable`, async () => {
      const step = epoch2Steps.find((s) => /^write-half <run>\/checkpoint\.tmp-[^/]+\/weights\.bin$/.test(s.label));
      assert.ok(step, epoch2Steps.map((s) => s.label).join('\n'));
      const out = path.join(scratchDir('full'), 'run');
      const r = await runChild('train', trainReq(out), { CXR_FAULT: `${kind}@${step.n}` });
      assert.equal(r.code, 1);
      assert.equal(r.last?.error?.code, 'STORAGE_FAILED', JSON.stringify(r.last));
      assert.match(r.last!.error!.message, kind === 'enospc' ? /the disk is full/ : /read-only/);
      assert.ok(r.last!.error!.message.includes(out), r.last!.error!.message);
      const status = JSON.parse(fs.readFileSync(path.join(out, 'status.json'), 'utf8'));
      assert.equal(status.status, 'failed');
      assert.match(status.message, /Could not write/);
      assert.deepEqual(fs.readdirSync(out).filter((e) => /\.(tmp|old)-/.test(e)), [], 'partial files left');
      const resumed = await new Engine().train({ ...trainReq(out), resume: true });
      assert.equal(resumed.status, 'completed');
      assert.deepEqual(resumed.history.map((h) => h.epoch), [1, 2]);
    });
  }

  it('evaluating a read-only run: into the run fails typed; into a writable --out succeeds', async () => {
    const out = path.join(scratchDir('ro'), 'run');
    const trained = await new Engine().train(trainReq(out));
    assert.equal(trained.status, 'completed');
    // Step 1 is the first write of the evaluation: evaluation/test/evaluation.json inside the run.
    const intoRun = await runChild('evaluate', { run: out, data: CI_TINY }, { CXR_FAULT: 'erofs@1' });
    assert.equal(intoRun.last?.error?.code, 'STORAGE_FAILED', JSON.stringify(intoRun.last));
    assert.ok(intoRun.last!.error!.message.includes(path.join(out, 'evaluation', 'test')));
    // With --out elsewhere, writes 1-6 go there; 7 would be the run's status.json (the recorded test accuracy).
    const elsewhere = scratchDir('ro-out');
    const withOut = await runChild('evaluate', { run: out, data: CI_TINY, outDir: elsewhere }, { CXR_FAULT: 'erofs@7' });
    assert.equal(withOut.code, 0, JSON.stringify(withOut.last));
    assert.ok(fs.existsSync(path.join(elsewhere, 'evaluation.json')));
  });
});

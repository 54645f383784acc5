import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { EpochMetrics } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { readWeightsFile } from '../../server/src/engine/models/weights';
import { saveNamedTensors } from '../../server/src/engine/train/runFolder';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

/**
 * The weight folders of a training (model/, checkpoint/): the frozen layers' weights are written once per training
 * (frozen.bin, hard-linked by every later save), the trained layers' at every save (weights.bin). Each folder loads
 * on its own, and folders in the one-shard layout of older runs still load and resume to the same numbers.
 */

const scratchDir = scratchDirFactory();
const engine = new Engine();
let trained: string;

const trainReq = (out: string) => ({ data: CI_TINY, out, backbone: 'mobilenet_v2' as const, epochs: 3, imageSize: 32, seed: 11 });

before(async () => {
  requireShared(CI_TINY);
  trained = path.join(scratchDir('folders'), 'run');
  const r = await engine.train(trainReq(trained));
  assert.equal(r.status, 'completed');
});

function copyRun(): string {
  const dir = path.join(scratchDir('copy'), 'run');
  fs.cpSync(trained, dir, { recursive: true });
  return dir;
}

function manifestGroups(dir: string): { paths: string[]; weights: { name: string }[] }[] {
  return JSON.parse(fs.readFileSync(path.join(dir, 'weights_manifest.json'), 'utf8'));
}

/** Rewrites a weight folder as older runs wrote it: every tensor in one weights.bin. */
async function toOneShard(dir: string): Promise<void> {
  const named = await readWeightsFile(path.join(dir, 'weights_manifest.json'));
  const state = fs.existsSync(path.join(dir, 'state.json')) ? JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) : undefined;
  try {
    await saveNamedTensors(dir, Object.fromEntries(named), state);
  } finally {
    named.forEach((t) => t.dispose());
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), [...(state ? ['state.json'] : []), 'weights.bin', 'weights_manifest.json'].sort());
}

function setEpochs(run: string, epochs: number): void {
  const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ ...config, epochs }));
}

const withoutSeconds = (h: EpochMetrics[]) => h.map(({ seconds: _seconds, ...rest }) => rest);

describe('weight folders of a training', () => {
  it('hold the frozen layers in one file shared by model/ and checkpoint/, and the trained layers beside it', () => {
    const model = path.join(trained, 'model');
    const checkpoint = path.join(trained, 'checkpoint');
    assert.deepEqual(fs.readdirSync(model).sort(), ['frozen.bin', 'weights.bin', 'weights_manifest.json']);
    assert.deepEqual(fs.readdirSync(checkpoint).sort(), ['frozen.bin', 'state.json', 'weights.bin', 'weights_manifest.json']);
    // Written once, then linked: both folders name the same file, not two copies.
    const a = fs.statSync(path.join(model, 'frozen.bin'));
    const b = fs.statSync(path.join(checkpoint, 'frozen.bin'));
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2);
    // The part rewritten at every save is the head: a small fraction of the frozen base.
    assert.ok(fs.statSync(path.join(model, 'weights.bin')).size * 50 < a.size, 'weights.bin is not much smaller than frozen.bin');
    const [trainedGroup, frozenGroup] = manifestGroups(model);
    assert.deepEqual(trainedGroup.paths, ['weights.bin']);
    assert.deepEqual(frozenGroup.paths, ['frozen.bin']);
    assert.ok(trainedGroup.weights.some((w) => w.name === 'cxr_predictions/kernel'));
    assert.ok(frozenGroup.weights.some((w) => w.name === 'Conv1/kernel'));
    assert.ok(!frozenGroup.weights.some((w) => w.name.startsWith('cxr_predictions/')));
    assert.ok(manifestGroups(checkpoint)[0].weights.some((w) => w.name.startsWith('__optimizer__/')));
  });

  it('each load on their own, and give what the one-shard layout of older runs gives', async () => {
    const alone = copyRun();
    fs.rmSync(path.join(alone, 'checkpoint'), { recursive: true });
    const oneShard = copyRun();
    await toOneShard(path.join(oneShard, 'model'));
    const a = await engine.evaluate({ run: alone, data: CI_TINY, split: 'all', outDir: scratchDir('eval-a') });
    const b = await engine.evaluate({ run: oneShard, data: CI_TINY, split: 'all', outDir: scratchDir('eval-b') });
    assert.ok(a.n >= 10, `evaluated ${a.n} images`);
    assert.equal(b.n, a.n);
    assert.deepEqual(a.predictions.map((p) => p.probabilities), b.predictions.map((p) => p.probabilities));
  });

  it('a checkpoint in the one-shard layout resumes to the same epochs as one in the new layout', async () => {
    const current = copyRun();
    const older = copyRun();
    await toOneShard(path.join(older, 'checkpoint'));
    setEpochs(current, 5);
    setEpochs(older, 5);
    const a = await engine.train({ ...trainReq(current), resume: true });
    const b = await engine.train({ ...trainReq(older), resume: true });
    assert.equal(a.status, 'completed');
    assert.equal(b.status, 'completed');
    assert.deepEqual(a.history.map((h) => h.epoch), [1, 2, 3, 4, 5]);
    assert.deepEqual(withoutSeconds(b.history), withoutSeconds(a.history));
    // Saved again by the resumed training: in the new layout.
    assert.deepEqual(fs.readdirSync(path.join(older, 'checkpoint')).sort(), ['frozen.bin', 'state.json', 'weights.bin', 'weights_manifest.json']);
  });

  it('a swap sibling whose frozen.bin was cut short by a crash is not taken: resume repairs from the complete one', async () => {
    const run = copyRun();
    const checkpoint = path.join(run, 'checkpoint');
    // The crash came in the middle of the next checkpoint: the complete one was already renamed aside, the new one
    // (newer, so preferred when complete) has its frozen shard cut short.
    const old = `${checkpoint}.old-1-100`;
    const tmp = `${checkpoint}.tmp-1-100`;
    fs.renameSync(checkpoint, old);
    fs.cpSync(old, tmp, { recursive: true });
    const frozen = fs.readFileSync(path.join(tmp, 'frozen.bin'));
    fs.writeFileSync(path.join(tmp, 'frozen.bin'), frozen.subarray(0, frozen.length - 4096));
    setEpochs(run, 4);
    const events: string[] = [];
    const r = await engine.train({ ...trainReq(run), resume: true }, (e) => {
      if (e.kind === 'phase') events.push(e.message);
    });
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.history.map((h) => h.epoch), [1, 2, 3, 4]);
    assert.ok(events.some((m) => m.includes(`restored checkpoint/ from ${path.basename(old)}`)), events.join(' | '));
    assert.deepEqual(fs.readdirSync(run).filter((e) => /\.(tmp|old)-/.test(e)), []);
  });
});

/**
 * Every engine job gives back the tfjs tensors it made: `tf.memory().numTensors` is the same before and after each,
 * whether it succeeds or fails. Found leaking before: the Momentum optimizer's learning-rate scalar and the 'iter'
 * scalar of every checkpoint, the head's initial weights, resumed optimizer slots, and the head layers' weights that
 * a model cut (splitModelAt) kept alive after the run model was disposed (2 per opened run session).
 * ci-tiny at 32 px with MobileNetV2: seconds per job.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Engine } from '../../server/src/engine/engine';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const engine = new Engine();
const IMAGE = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');
let work: string;
let run: string;

/** Runs `job` (its failure is fine) and returns how many tensors it left behind once the engine's cache is dropped. */
async function leftBehind(job: () => Promise<unknown>): Promise<number> {
  engine.dispose();
  const before = tf.memory().numTensors;
  await job().catch(() => undefined);
  engine.dispose();
  return tf.memory().numTensors - before;
}

describe('engine jobs leave no tensors behind', () => {
  before(async () => {
    requireShared(CI_TINY);
    await engine.init();
    work = scratch('leaks');
    run = path.join(work, 'run');
  });

  it('a fresh training, a resumed one and an augmented one', async () => {
    assert.equal(await leftBehind(() => engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 2, imageSize: 32, seed: 3 })), 0);
    assert.ok(fs.existsSync(path.join(run, 'model')), 'the training did not produce a model');
    const config = path.join(run, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), epochs: 3 }));
    assert.equal(await leftBehind(() => engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', resume: true })), 0);
    assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'status.json'), 'utf8')).epochsRun, 3);
    const augmented = path.join(work, 'augmented');
    assert.equal(await leftBehind(() => engine.train({ data: CI_TINY, out: augmented, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, augment: true })), 0);
  });

  it('a training that fails part-way (after its first epoch)', async () => {
    const failing = path.join(work, 'failing');
    let failed: unknown;
    const left = await leftBehind(() =>
      engine.train({ data: CI_TINY, out: failing, backbone: 'mobilenet_v2', epochs: 3, imageSize: 32 }, (e) => {
        if (e.kind === 'epoch') throw new Error('the progress listener broke');
      }).catch((e) => {
        failed = e;
      }));
    assert.match(String(failed), /the progress listener broke/);
    assert.equal(JSON.parse(fs.readFileSync(path.join(failing, 'status.json'), 'utf8')).status, 'failed');
    assert.equal(left, 0);
  });

  it('explain (CAM and Grad-CAM), predict, evaluate and the CAM grid', async () => {
    assert.equal(await leftBehind(() => engine.explain({ run, image: IMAGE })), 0);
    assert.equal(await leftBehind(() => engine.explain({ run, image: IMAGE, method: 'gradcam', className: 'Normal' })), 0);
    assert.equal(await leftBehind(() => engine.predict({ run, files: [IMAGE] })), 0);
    assert.equal(await leftBehind(() => engine.evaluate({ run, data: CI_TINY, outDir: path.join(work, 'eval') })), 0);
    assert.ok(fs.existsSync(path.join(work, 'eval', 'evaluation.json')), 'the evaluation did not run');
    assert.equal(await leftBehind(() => engine.camGrid({ run, data: CI_TINY, out: path.join(work, 'grid.png') })), 0);
    assert.ok(fs.existsSync(path.join(work, 'grid.png')), 'the grid was not written');
  });

  it('evaluate and explain refusing their output path', async () => {
    fs.writeFileSync(path.join(work, 'a-file'), 'x');
    assert.equal(await leftBehind(() => engine.evaluate({ run, data: CI_TINY, outDir: path.join(work, 'a-file') })), 0);
    assert.equal(await leftBehind(() => engine.explain({ run, image: IMAGE, out: work })), 0);
  });
});

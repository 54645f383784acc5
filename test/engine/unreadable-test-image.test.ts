/**
 * One unreadable test image does not abort an evaluation or a CAM grid: the others are measured, and the file is
 * named as left out, with its error code, in evaluation.json, the Markdown report, the command line's output and the
 * result the evaluation panel shows. The data: a copy of ci-tiny in a temp folder with a truncated real PNG and a
 * text file named .jpeg among the test images.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { EvaluateResult } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { truncated } from '../fixtures-gen/images';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const scratch = scratchDirFactory();
const engine = new Engine();
let work: string;
let data: string;
let run: string;
let damagedPng: string;
let textJpeg: string;

describe('an unreadable test image is left out and reported, the rest is measured', () => {
  before(async () => {
    requireShared(CI_TINY);
    work = scratch('unreadable');
    data = path.join(work, 'data');
    fs.cpSync(CI_TINY, data, { recursive: true });
    damagedPng = path.join(data, 'test', 'Covid', '0199-damaged.png');
    fs.writeFileSync(damagedPng, truncated(fs.readFileSync(path.join(CI_TINY, 'test', 'Covid', '0105.png')), 0.4));
    textJpeg = path.join(data, 'test', 'Normal', '0199-notes.jpeg');
    fs.writeFileSync(textJpeg, 'scanner notes, not an image\n');
    run = path.join(work, 'run');
    const trained = await engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 4 });
    assert.equal(trained.status, 'completed');
  });

  it('evaluate: metrics over the 6 readable images; evaluation.json and the report name the 2 others with their codes', async () => {
    const outDir = path.join(work, 'eval');
    const r = await engine.evaluate({ run, data, split: 'test', outDir });
    assert.equal(r.n, 6);
    assert.equal(r.predictions.length, 6);
    assert.equal(r.confusion_matrix.flat().reduce((a, b) => a + b, 0), 6);
    assert.ok(!r.predictions.some((p) => p.file === damagedPng || p.file === textJpeg), 'an unreadable file among the predictions');
    assert.deepEqual(r.unreadable?.map((u) => [u.file, u.code]), [[damagedPng, 'CORRUPT_IMAGE'], [textJpeg, 'UNSUPPORTED_FORMAT']]);
    assert.match(r.caveats[0], /2 of the 8 images could not be read and were left out; every number here describes the other 6/);

    const saved = JSON.parse(fs.readFileSync(path.join(outDir, 'evaluation.json'), 'utf8')) as EvaluateResult;
    assert.deepEqual(saved.unreadable, r.unreadable);
    const md = fs.readFileSync(path.join(outDir, 'evaluation.md'), 'utf8');
    assert.match(md, /Split: test \(6 images; 2 more could not be read and are left out\)/);
    assert.match(md, /## Unreadable images \(2\)/);
    assert.match(md, new RegExp(`\\| ${damagedPng.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\| CORRUPT_IMAGE \\| .*PNG file is truncated`));
    assert.match(md, /0199-notes\.jpeg \| UNSUPPORTED_FORMAT \| .*text file/);
  });

  it('cam-grid: a tile for each readable image, the unreadable ones listed', async () => {
    const out = path.join(work, 'grid.png');
    const g = await engine.camGrid({ run, data, out });
    assert.equal(g.tiles, 6);
    assert.deepEqual(g.unreadable.map((u) => u.code), ['CORRUPT_IMAGE', 'UNSUPPORTED_FORMAT']);
    assert.ok(fs.statSync(out).size > 0);
  });

  it('the command line prints each left-out file with its code, and exits 0', () => {
    const e = spawnSync(process.execPath, [BIN, 'evaluate', run, data, '--out', path.join(work, 'cli-eval')], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /^test: 6 images, accuracy/m);
    assert.ok(e.stdout.includes(`excluded (unreadable): ${damagedPng} [CORRUPT_IMAGE]`), e.stdout);
    assert.ok(e.stdout.includes(`excluded (unreadable): ${textJpeg} [UNSUPPORTED_FORMAT]`), e.stdout);
    const g = spawnSync(process.execPath, [BIN, 'cam-grid', run, data, '--out', path.join(work, 'cli-grid.png')], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stdout, /CAM grid of 6 images/);
    assert.ok(g.stdout.includes(`excluded (unreadable): ${damagedPng} [CORRUPT_IMAGE]`), g.stdout);
  });

  it('a split where no image can be read is a DATASET_INVALID error, not an empty report', async () => {
    const bad = path.join(work, 'all-bad');
    for (const c of ['Covid', 'Normal', 'Viral Pneumonia']) {
      fs.mkdirSync(path.join(bad, 'train', c), { recursive: true });
      fs.mkdirSync(path.join(bad, 'test', c), { recursive: true });
      fs.copyFileSync(path.join(CI_TINY, 'train', 'Normal', '01.jpeg'), path.join(bad, 'train', c, '01.jpeg'));
      fs.writeFileSync(path.join(bad, 'test', c, 'x.png'), 'not a png');
    }
    await assert.rejects(engine.evaluate({ run, data: bad, outDir: path.join(work, 'bad-eval') }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'DATASET_INVALID');
      assert.match(e.message, /None of the 3 image\(s\) of the test split could be read/);
      return true;
    });
  });
});

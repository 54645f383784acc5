/**
 * The `cxr` command line as users run it (bin/cxr.js in a child process): train, Ctrl-C (SIGINT) during training,
 * --resume, evaluate, cam, cam-grid, and the exit status of each (0 success, 1 failure, 2 usage, 130 cancelled).
 * ci-tiny with MobileNetV2 ImageNet weights; the method's augmentation is on so that every batch runs the frozen base
 * and the training lasts long enough to be interrupted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, COVID19, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const IMAGE = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');
const EPOCHS = 3;
const scratch = scratchDirFactory();

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cxr(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Runs cxr and sends SIGINT (what Ctrl-C sends) the first time a stderr line matches `when`. */
function cxrInterrupted(when: RegExp, ...args: string[]): Promise<CliResult & { interrupted: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!interrupted && when.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, interrupted });
    });
  });
}

function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

describe('cxr command line: train, Ctrl-C, --resume, evaluate, cam, cam-grid', () => {
  let dir: string;
  let run: string;

  before(() => {
    requireShared(CI_TINY);
    requireShared(MOBILENET_NOTOP_MANIFEST);
    dir = scratch('cli-workflow');
    run = path.join(dir, 'run');
  });

  it('stops a training on SIGINT after the current batch, keeps the best model and exits 130', async () => {
    const r = await cxrInterrupted(
      /^epoch 1\/3 /m,
      'train', CI_TINY, '--out', run, '--backbone', 'mobilenet_v2', '--weights', MOBILENET_NOTOP_MANIFEST,
      '--epochs', String(EPOCHS), '--batch', '2', '--seed', '5', '--augment', '--json',
    );
    assert.ok(r.interrupted, `no epoch line on stderr:\n${r.stderr}`);
    assert.equal(r.code, 130, `exit ${r.code} ${r.signal}\n${r.stderr}`);
    assert.match(r.stderr, /Cancelling after the current batch/);
    const result = JSON.parse(r.stdout);
    assert.equal(result.status, 'cancelled');
    assert.ok(result.epochsRun >= 1 && result.epochsRun < EPOCHS, `epochs run: ${result.epochsRun}`);
    const status = readJson(path.join(run, 'status.json'));
    assert.equal(status.status, 'cancelled');
    assert.ok(fs.existsSync(path.join(run, 'model', 'weights_manifest.json')), 'best model kept');
  });

  it('refuses to train into an existing run folder without --resume (exit 1), then --resume finishes it (exit 0)', () => {
    const again = cxr('train', CI_TINY, '--out', run, '--weights', MOBILENET_NOTOP_MANIFEST, '--epochs', '1', '--json');
    assert.equal(again.code, 1, again.stderr);
    assert.equal(JSON.parse(again.stdout).error.code, 'RUN_INVALID');
    assert.match(again.stderr, /--resume/);

    const before = readJson<{ epochsRun: number }>(path.join(run, 'status.json')).epochsRun;
    const r = cxr('train', CI_TINY, '--out', run, '--resume', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Preparing to resume/);
    const result = JSON.parse(r.stdout);
    assert.equal(result.status, 'completed');
    assert.equal(result.epochsRun, EPOCHS);
    assert.deepEqual(result.history.map((h: { epoch: number }) => h.epoch), [1, 2, 3]);
    // Only the epochs after the checkpoint ran again.
    const epochLines = r.stderr.match(/^epoch \d\/3 /gm) ?? [];
    assert.equal(epochLines.length, EPOCHS - before, r.stderr);
    assert.equal(readJson(path.join(run, 'status.json')).status, 'completed');
  });

  it('evaluates the run on the test split (exit 0, JSON with interval, report files)', () => {
    const r = cxr('evaluate', run, CI_TINY, '--json');
    assert.equal(r.code, 0, r.stderr);
    const evaluation = JSON.parse(r.stdout);
    assert.equal(evaluation.n, 6);
    assert.deepEqual(evaluation.classes, ['Covid', 'Normal', 'Viral Pneumonia']);
    assert.ok(evaluation.accuracy_ci.low <= evaluation.accuracy && evaluation.accuracy <= evaluation.accuracy_ci.high);
    const total = (evaluation.confusion_matrix as number[][]).flat().reduce((a, b) => a + b, 0);
    assert.equal(total, 6);
    assert.ok(fs.existsSync(path.join(run, 'evaluation', 'test', 'evaluation.json')));
    assert.ok(fs.existsSync(path.join(run, 'evaluation', 'test', 'evaluation.md')));
    const human = cxr('evaluate', run, CI_TINY);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /\d+\.\d%/);
  });

  it('Ctrl-C during predict and evaluate exits 130 with one line, writing nothing', async () => {
    requireShared(COVID19);
    // 300-odd images at 224 px: seconds of work, so the signal lands mid-way.
    const folders = ['train', 'test'].flatMap((s) => fs.readdirSync(path.join(COVID19, s)).map((c) => path.join(COVID19, s, c)));
    const p = await cxrInterrupted(/^Loaded model of /m, 'predict', run, ...folders, '--json');
    assert.ok(p.interrupted, `no 'Loaded model' line on stderr:\n${p.stderr}`);
    assert.equal(p.code, 130, `exit ${p.code} ${p.signal}\n${p.stderr}`);
    assert.equal(p.stdout, '', 'predictions printed after Ctrl-C');
    const after = p.stderr.slice(p.stderr.search(/^Loaded model of /m)).trim().split('\n').slice(1);
    assert.deepEqual(after.filter((l) => !/^Inference for /.test(l)), ['cxr: predict cancelled (Ctrl-C).'], p.stderr);

    const out = path.join(dir, 'eval-interrupted');
    const e = await cxrInterrupted(/^evaluating \d+\/\d+/m, 'evaluate', run, COVID19, '--split', 'all', '--out', out, '--json');
    assert.ok(e.interrupted, `no progress line on stderr:\n${e.stderr}`);
    assert.equal(e.code, 130, `exit ${e.code} ${e.signal}\n${e.stderr}`);
    assert.equal(e.stdout, '');
    assert.match(e.stderr, /^cxr: evaluate cancelled \(Ctrl-C\)\.\n$/m);
    assert.equal(fs.existsSync(path.join(out, 'evaluation.json')), false, 'an evaluation written after Ctrl-C');
  });

  it('writes a Grad-CAM overlay for a chosen class with cam (exit 0), and a grid with cam-grid (exit 0)', async () => {
    const png = path.join(dir, 'cam.png');
    const r = cxr('cam', run, IMAGE, '--out', png, '--method', 'gradcam', '--class', 'Normal', '--json');
    assert.equal(r.code, 0, r.stderr);
    const cam = JSON.parse(r.stdout);
    assert.equal(cam.target, 'Normal');
    assert.equal(cam.method, 'gradcam');
    assert.equal(cam.overlayPath, png);
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 224, 224]);

    const gridPng = path.join(dir, 'grid.png');
    const g = cxr('cam-grid', run, CI_TINY, '--out', gridPng, '--json');
    assert.equal(g.code, 0, g.stderr);
    const grid = JSON.parse(g.stdout);
    assert.equal(grid.tiles, 6);
    assert.ok(grid.correct >= 0 && grid.correct <= 6);
    assert.equal((await sharp(gridPng).metadata()).format, 'png');
  });

  it('exits 1 on a failure and 2 on a usage error, saying what is wrong', () => {
    const missingImage = cxr('cam', run, path.join(dir, 'no-such.png'), '--out', path.join(dir, 'x.png'), '--json');
    assert.equal(missingImage.code, 1, missingImage.stderr);
    assert.equal(JSON.parse(missingImage.stdout).error.code, 'NOT_FOUND');
    assert.equal(fs.existsSync(path.join(dir, 'x.png')), false);

    const unknownClass = cxr('cam', run, IMAGE, '--out', path.join(dir, 'y.png'), '--class', 'Fracture');
    // A request the engine finds invalid (INVALID_ARGUMENT) is a usage error like the CLI's own: exit 2.
    assert.equal(unknownClass.code, 2, unknownClass.stderr);
    assert.match(unknownClass.stderr, /INVALID_ARGUMENT.*Fracture/);

    const noOut = cxr('cam', run, IMAGE);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /Missing --out/);
    const badMethod = cxr('cam-grid', run, CI_TINY, '--out', path.join(dir, 'g.png'), '--method', 'lime');
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /--method must be one of cam, gradcam, got .lime./);
    const unknownFlag = cxr('evaluate', run, CI_TINY, '--splitt', 'test');
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /--splitt/);
    const unknownCommand = cxr('fly');
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /Unknown command 'fly'/);
  });
});

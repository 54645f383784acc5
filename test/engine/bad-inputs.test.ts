import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, decodeImageBuffer } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { CxrError } from '../../server/src/engine/errors';
import { readWeightsFile } from '../../server/src/engine/models/weights';
import { buildDicom } from '../fixtures-gen/dicom';
import { pngWithHugeHeader, truncated } from '../fixtures-gen/images';
import { CI_TINY, DICOM_SAMPLES, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

/**
 * A corpus of bad and odd inputs, generated here, each with its own specific outcome: the code and a sentence that
 * says what is wrong. None may be INTERNAL, hang, or leave tensors behind.
 */

const scratchDir = scratchDirFactory();
const engine = new Engine();
let work: string;
let run: string;
const PNG = path.join(CI_TINY, 'train', 'Covid', '010.png');
const JPEG = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');

interface Case {
  name: string;
  run: () => Promise<unknown>;
  code: string;
  message: RegExp;
}

function fifo(file: string): string {
  execFileSync('mkfifo', [file]);
  return file;
}

function dicomWith(slope: string): Buffer {
  const pixels = new Uint16Array(16 * 16).map((_, i) => i * 10);
  const buf = buildDicom({ rows: 16, cols: 16, bitsAllocated: 16, pixels, slope: 7777 });
  const at = buf.indexOf('7777');
  buf.write(slope.padEnd(4, ' ').slice(0, 4), at, 'latin1');
  return buf;
}

/** A JPEG-encapsulated DICOM (img2dcm) whose JPEG frame header claims 12000 x 12000 while the DICOM says less. */
function dicomWithOversizedJpegFrame(): Buffer {
  const buf = Buffer.from(fs.readFileSync(path.join(DICOM_SAMPLES, 'kaggle-img2dcm', 'Normal_0101.dcm')));
  const sof = buf.indexOf(Buffer.from([0xff, 0xc0]), 132);
  assert.ok(sof > 0, 'no SOF0 marker in the sample');
  buf.writeUInt16BE(12000, sof + 5);
  buf.writeUInt16BE(12000, sof + 7);
  return buf;
}

function copyRun(name: string, edit: (dir: string) => void): string {
  const dir = path.join(work, name);
  fs.cpSync(run, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editConfig(dir: string, change: Record<string, unknown>): void {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...change }));
}

const CASES: Case[] = [];
const add = (name: string, code: string, message: RegExp, fn: () => Promise<unknown>): void => {
  CASES.push({ name, code, message, run: fn });
};

before(async () => {
  requireShared(CI_TINY);
  work = scratchDir('bad');
  run = path.join(work, 'run');
  const r = await engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 2, imageSize: 32, seed: 9 });
  assert.equal(r.status, 'completed');
});

// Images
add('empty file', 'UNSUPPORTED_FORMAT', /empty file/, () => decodeImageBuffer(Buffer.alloc(0), 32, 'empty.png'));
add('text named .png', 'UNSUPPORTED_FORMAT', /text file/, () => decodeImageBuffer(Buffer.from('just some notes\n'), 32, 'notes.png'));
add('HTML named .jpg', 'UNSUPPORTED_FORMAT', /HTML page/, () => decodeImageBuffer(Buffer.from('<!DOCTYPE html><html></html>'), 32, 'page.jpg'));
add('BMP', 'UNSUPPORTED_FORMAT', /BMP/, () => decodeImageBuffer(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), 32, 'scan.bmp'));
add('truncated PNG', 'CORRUPT_IMAGE', /PNG file is truncated/, async () => decodeImageBuffer(truncated(fs.readFileSync(PNG), 0.3), 32, 'cut.png'));
add('truncated JPEG', 'CORRUPT_IMAGE', /JPEG file is truncated/, async () => decodeImageBuffer(truncated(fs.readFileSync(JPEG), 0.3), 32, 'cut.jpeg'));
add('PNG header claiming 100000 x 100000', 'IMAGE_TOO_LARGE', /100000 x 100000/, () => decodeImageBuffer(pngWithHugeHeader(100_000, 100_000), 32, 'bomb.png'));
add('FIFO named as an image', 'NOT_A_FILE', /named pipe/, () => decodeImage(fifo(path.join(work, 'pipe.png')), 32));
add('a device named as an image', 'NOT_A_FILE', /device/, () => decodeImage('/dev/zero', 32));
add('a folder named as an image', 'NOT_A_FILE', /folder/, () => decodeImage(work, 32));
add('missing image', 'NOT_FOUND', /not found/, () => decodeImage(path.join(work, 'nope.png'), 32));
add('DICOM with a non-numeric rescale slope', 'CORRUPT_IMAGE', /RescaleSlope.*not usable numbers/, () => decodeImageBuffer(dicomWith('abcd'), 32, 'slope.dcm'));
add('DICOM with rescale slope 0', 'CORRUPT_IMAGE', /slope must be a non-zero number/, () => decodeImageBuffer(dicomWith('0'), 32, 'zero.dcm'));
add('truncated DICOM header', 'CORRUPT_IMAGE', /^(?!.*object Object).*slope2?\.dcm/, async () => {
  const whole = dicomWith('1');
  return decodeImageBuffer(whole.subarray(0, 200), 32, 'slope2.dcm');
});
add('truncated DICOM pixel data', 'CORRUPT_IMAGE', /does not parse \(.*buffer overrun\)/, () => decodeImageBuffer(dicomWith('1').subarray(0, dicomWith('1').length - 100), 32, 'short.dcm'));
add('JPEG frame in a DICOM larger than its header says', 'IMAGE_TOO_LARGE', /12000 x 12000/, async () => decodeImageBuffer(dicomWithOversizedJpegFrame(), 32, 'bomb.dcm'));

// Weights
const manifestWith = (name: string, shard: Buffer | null, manifest?: string): string => {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'weights_manifest.json'), manifest ?? JSON.stringify([{ paths: ['weights.bin'], weights: [{ name: 'dense/kernel', shape: [10, 10], dtype: 'float32' }] }]));
  if (shard) fs.writeFileSync(path.join(dir, 'weights.bin'), shard);
  return dir;
};
add('weights shard of random bytes holding NaN', 'NON_FINITE', /holds NaN values/, () => readWeightsFile(manifestWith('w-nan', Buffer.alloc(400, 0xff))));
add('weights manifest that is not JSON', 'WEIGHTS_INVALID', /not valid JSON/, () => readWeightsFile(manifestWith('w-json', null, '[{"paths": [')));
add('truncated weights shard', 'WEIGHTS_INVALID', /truncated/, () => readWeightsFile(manifestWith('w-short', Buffer.alloc(100))));
add('weights file that is a PNG', 'WEIGHTS_INVALID', /PNG image/, () => readWeightsFile(PNG));
add('weights file that is a FIFO', 'NOT_A_FILE', /named pipe/, () => readWeightsFile(fifo(path.join(work, 'weights.h5'))));

// Run folders
const predictIn = (dir: string) => () => engine.predict({ run: dir, files: [JPEG] });
add('foreign config.json', 'RUN_INVALID', /not a usable CXR Studio run config: 'version'/, () =>
  predictIn(copyRun('foreign', (d) => fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ name: 'other tool' }))))());
add('half-written config.json', 'RUN_INVALID', /config\.json is not valid JSON/, () =>
  predictIn(copyRun('half', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"version": 1, "backbo')))());
add('config.json with imageSize 100000', 'RUN_INVALID', /'imageSize' is 100000/, () => predictIn(copyRun('huge', (d) => editConfig(d, { imageSize: 100000 })))());
add('config.json with learning rate 1e30 (resume)', 'RUN_INVALID', /learning rate/, () =>
  engine.train({ data: CI_TINY, out: copyRun('lr', (d) => editConfig(d, { learningRate: 1e30 })), backbone: 'mobilenet_v2', resume: true }));
add('run without a model', 'RUN_INVALID', /no trained model yet/, () => predictIn(copyRun('nomodel', (d) => fs.rmSync(path.join(d, 'model'), { recursive: true })))());
add('checkpoint state.json that is not JSON', 'RUN_INVALID', /state\.json is not valid JSON/, () =>
  engine.train({ data: CI_TINY, out: copyRun('state', (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'state.json'), 'garbage')), backbone: 'mobilenet_v2', resume: true }));
add('model weights overwritten with random bytes', 'NON_FINITE', /holds NaN values/, () =>
  predictIn(copyRun('nanmodel', (d) => fs.writeFileSync(path.join(d, 'model', 'weights.bin'), Buffer.alloc(fs.statSync(path.join(d, 'model', 'weights.bin')).size, 0xff))))());
add('a checkpoint whose head blew up: diverged training', 'NON_FINITE', /Training diverged in epoch 3/, async () => {
  const dir = copyRun('diverged', (d) => editConfig(d, { epochs: 3 }));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint', 'weights_manifest.json'), 'utf8'));
  const shard = fs.readFileSync(path.join(dir, 'checkpoint', 'weights.bin'));
  let offset = 0;
  for (const w of manifest[0].weights) {
    const n = w.shape.reduce((a: number, b: number) => a * b, 1);
    if (w.name.startsWith('cxr_predictions/')) for (let i = 0; i < n; i++) shard.writeFloatLE(1e30 * (i % 2 ? 1 : -1), offset + 4 * i);
    offset += 4 * n;
  }
  fs.writeFileSync(path.join(dir, 'checkpoint', 'weights.bin'), shard);
  try {
    return await engine.train({ data: CI_TINY, out: dir, backbone: 'mobilenet_v2', resume: true });
  } finally {
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')).status, 'failed');
  }
});


// Training requests and outputs
const newRun = (name: string) => path.join(work, name);
add('learning rate 1e30', 'INVALID_ARGUMENT', /learning rate must be a number in \(0, 10\]/, () =>
  engine.train({ data: CI_TINY, out: newRun('lr30'), backbone: 'mobilenet_v2', learningRate: 1e30, epochs: 1, imageSize: 32 }));
add('momentum 1.5', 'INVALID_ARGUMENT', /momentum must be a number in \[0, 1\)/, () =>
  engine.train({ data: CI_TINY, out: newRun('m15'), backbone: 'mobilenet_v2', momentum: 1.5, epochs: 1, imageSize: 32 }));
add('imageSize 100000', 'INVALID_ARGUMENT', /image size must be a whole number from 32 to 512/, () =>
  engine.train({ data: CI_TINY, out: newRun('big'), backbone: 'mobilenet_v2', imageSize: 100000, epochs: 1 }));
add('train --out naming a file', 'OUTPUT_INVALID', /is a file; --out must name a folder/, () => {
  fs.writeFileSync(path.join(work, 'a-file'), 'x');
  return engine.train({ data: CI_TINY, out: path.join(work, 'a-file'), backbone: 'mobilenet_v2', epochs: 1, imageSize: 32 });
});
add('train --out inside a file', 'OUTPUT_INVALID', /a folder above it is a file/, () => {
  fs.writeFileSync(path.join(work, 'b-file'), 'x');
  return engine.train({ data: CI_TINY, out: path.join(work, 'b-file', 'run'), backbone: 'mobilenet_v2', epochs: 1, imageSize: 32 });
});
add('evaluate --out naming a file', 'OUTPUT_INVALID', /it, or a folder above it, is a file/, () => {
  fs.writeFileSync(path.join(work, 'eval-file'), 'x');
  return engine.evaluate({ run, data: CI_TINY, outDir: path.join(work, 'eval-file') });
});
add('cam --out naming a folder', 'OUTPUT_INVALID', /is a folder; give a file name/, () => engine.explain({ run, image: JPEG, out: work }));

describe('bad and odd inputs each get their specific outcome', () => {
  it('the corpus is at least 30 cases', () => assert.ok(CASES.length >= 30, String(CASES.length)));
  for (const c of CASES) {
    it(c.name, async () => {
      engine.dispose(); // the cached model of an earlier case is not a leak
      const tensors = tf.memory().numTensors;
      let caught: unknown;
      const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('hung for 30 s')), 30_000).unref());
      try {
        await Promise.race([c.run(), timer]);
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof CxrError, `expected a CxrError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
      assert.equal(caught.code, c.code, caught.message);
      assert.match(caught.message, c.message);
      assert.doesNotMatch(caught.message, /\n\s+at /, 'a stack in the message');
      engine.dispose();
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    });
  }
});

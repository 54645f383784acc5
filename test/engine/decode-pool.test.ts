import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyTransform, type AffineTransform } from '../../server/src/engine/data/augment';
import { loadDataset } from '../../server/src/engine/data/dataset';
import { decodeImage } from '../../server/src/engine/data/decode';
import { DecodePool } from '../../server/src/engine/data/decodePool';
import { CxrError } from '../../server/src/engine/errors';
import { train } from '../../server/src/engine/train/trainer';
import { CI_TINY, DICOM_SAMPLES, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const TILT: AffineTransform = { thetaDeg: 7.5, tx: -9.25, ty: 4, zx: 1.1, zy: 0.92 };

test('decode pool: two workers give the same pixels as decoding in this thread, bit for bit, in call order', async () => {
  const files = [
    ...(await loadDataset(requireShared(CI_TINY))).items.map((i) => i.path),
    path.join(requireShared(DICOM_SAMPLES), 'kaggle-img2dcm', 'Covid_0102_MONOCHROME1_12bit.dcm'),
  ];
  const pool = DecodePool.create(2)!;
  assert.ok(pool, 'the pool starts from the TypeScript sources');
  try {
    // All at once: the bounded queue holds 8, the rest wait for room; every call still gets its own image.
    const pooled = await Promise.all(files.map((f) => pool.decode(f, 96)));
    const augmented = await Promise.all(files.map((f) => pool.decode(f, 96, TILT)));
    for (const [i, f] of files.entries()) {
      const here = await decodeImage(f, 96);
      assert.deepEqual(pooled[i].data, here.data, path.basename(f));
      assert.deepEqual(pooled[i].source, here.source);
      assert.deepEqual(augmented[i].data, applyTransform(here.data, 96, TILT), `${path.basename(f)} augmented`);
    }
  } finally {
    await pool.close();
  }
});

test('decode pool: a bad file fails only its own call with the decoder\'s typed error, and the pool goes on', async () => {
  const dir = scratch('decode-pool');
  const good = path.join(requireShared(CI_TINY), 'train', 'Covid', '010.png');
  const truncated = path.join(dir, 'cut.png');
  fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 300));
  const text = path.join(dir, 'notes.jpg');
  fs.writeFileSync(text, 'not an image at all\n');
  const pool = DecodePool.create(2)!;
  try {
    const results = await Promise.allSettled([good, truncated, text, path.join(dir, 'missing.png'), good].map((f) => pool.decode(f, 64)));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason instanceof CxrError ? r.reason.code : String(r.reason)));
    assert.deepEqual(codes, ['ok', 'CORRUPT_IMAGE', 'UNSUPPORTED_FORMAT', 'NOT_FOUND', 'ok']);
    const cut = (results[1] as PromiseRejectedResult).reason as CxrError;
    assert.match(cut.message, /cut\.png/);
    assert.deepEqual(cut.details, { file: 'cut.png', problem: 'truncated' });
    assert.match(cut.diagnostic ?? '', /^cut\.png: PNG file decoder: ./, 'the decoder\'s words cross from the worker for the log');
    const after = await pool.decode(good, 64);
    assert.deepEqual(after.data, (await decodeImage(good, 64)).data, 'the workers still decode after the failures');
  } finally {
    await pool.close();
  }
});

test('decode pool: a worker that dies fails only the image it held, and a new worker takes its place', async () => {
  const good = path.join(requireShared(CI_TINY), 'train', 'Covid', '010.png');
  const pool = DecodePool.create(1)!;
  try {
    await pool.decode(good, 64); // the worker is up
    const held = pool.decode(good, 224);
    const waiting = pool.decode(good, 64);
    // As a crash would: the one worker ends while it decodes `held`.
    await (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0].worker.terminate();
    await assert.rejects(held, (e: unknown) => e instanceof CxrError && e.code === 'INTERNAL' && /010\.png/.test(e.message));
    assert.deepEqual((await waiting).data, (await decodeImage(good, 64)).data, 'the queued image is decoded by the new worker');
  } finally {
    await pool.close();
  }
});

test('training decodes on the pool and learns exactly what it learns decoding in one thread (streamed and augmented)', async () => {
  const saved = { workers: process.env.CXR_DECODE_WORKERS, cache: process.env.CXR_FEATURE_CACHE };
  process.env.CXR_FEATURE_CACHE = 'off';
  try {
    const histories: Record<string, unknown> = {};
    for (const workers of ['0', '2']) {
      process.env.CXR_DECODE_WORKERS = workers;
      for (const augment of [false, true]) {
        const out = path.join(scratch('decode-pool-train'), 'run');
        const r = await train({ data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 2, seed: 11, imageSize: 96, valFraction: 0.2, augment });
        histories[`${workers}/${augment}`] = r.history.map((h) => [h.loss, h.accuracy, h.valLoss]);
      }
    }
    assert.deepEqual(histories['2/false'], histories['0/false'], 'streamed frozen pass');
    assert.deepEqual(histories['2/true'], histories['0/true'], 'augmented batches');
    assert.notDeepEqual(histories['0/true'], histories['0/false'], 'augmentation changed the inputs');
  } finally {
    for (const [k, v] of [['CXR_DECODE_WORKERS', saved.workers], ['CXR_FEATURE_CACHE', saved.cache]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

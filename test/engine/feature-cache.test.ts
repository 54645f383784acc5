import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainEvent } from '../../server/src/engine/api';
import { initBackend } from '../../server/src/engine/backend/select';
import { cacheInfo, clearCache, FeatureCache, weightsHash, type FrozenKeyParts } from '../../server/src/engine/cache/featureCache';
import { getBackbone } from '../../server/src/engine/models/registry';
import { train } from '../../server/src/engine/train/trainer';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const IMAGE = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');

test('a second training on the same data reads every frozen output from the cache and trains the same', async () => {
  const cacheDir = scratch('cache');
  process.env.CXR_CACHE_DIR = cacheDir;
  try {
    const dir = scratch('cache-runs');
    const req = { data: requireShared(CI_TINY), backbone: 'mobilenet_v2' as const, weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 2, seed: 3, imageSize: 96, valFraction: 0.2 };
    const messages = (events: TrainEvent[]) => events.flatMap((e) => (e.kind === 'phase' && e.message.includes('from the cache') ? [e.message] : []));
    const first: TrainEvent[] = [];
    const a = await train({ ...req, out: path.join(dir, 'a') }, { onEvent: (e) => first.push(e) });
    const second: TrainEvent[] = [];
    const b = await train({ ...req, out: path.join(dir, 'b') }, { onEvent: (e) => second.push(e) });
    const trainN = a.history.length > 0 ? JSON.parse(fs.readFileSync(path.join(a.runDir, 'config.json'), 'utf8')).split : null;
    assert.deepEqual(messages(first), [
      `Frozen outputs of the training images: 0 from the cache, ${trainN.train} computed`,
      `Frozen outputs of the validation images: 0 from the cache, ${trainN.val} computed`,
    ]);
    assert.deepEqual(messages(second), [
      `Frozen outputs of the training images: ${trainN.train} from the cache, 0 computed`,
      `Frozen outputs of the validation images: ${trainN.val} from the cache, 0 computed`,
    ]);
    assert.deepEqual(b.history.map((h) => [h.loss, h.valLoss]), a.history.map((h) => [h.loss, h.valLoss]), 'cached features train exactly the same');
    const info = cacheInfo(cacheDir);
    assert.equal(info.entries, trainN.train + trainN.val);
    assert.equal(info.bytes, info.entries * 1280 * 4, 'pooled features: 1280 floats per image');
    assert.equal(clearCache(cacheDir).entries, info.entries);
    assert.equal(cacheInfo(cacheDir).entries, 0);
  } finally {
    delete process.env.CXR_CACHE_DIR;
  }
});

test('the cache key changes with the file\'s bytes, the weights, the cut point, the input size and the backbone', async () => {
  await initBackend();
  const dir = scratch('keys');
  const copy = path.join(dir, 'copy.jpeg');
  const edited = path.join(dir, 'edited.jpeg');
  fs.copyFileSync(requireShared(IMAGE), copy);
  const bytes = fs.readFileSync(IMAGE);
  bytes[bytes.length - 3] ^= 0xff;
  fs.writeFileSync(edited, bytes);

  const spec = getBackbone('mobilenet_v2');
  const m1 = spec.build({ inputSize: 32 });
  const m2 = spec.build({ inputSize: 32 });
  assert.equal(await weightsHash(m1), await weightsHash(m1));
  assert.notEqual(await weightsHash(m1), await weightsHash(m2), 'two random initialisations hash differently');

  const base: FrozenKeyParts = { backbone: 'mobilenet_v2', cutAt: 'out_relu+cxr_gap', imageSize: 224, weights: await weightsHash(m1) };
  const key = (parts: Partial<FrozenKeyParts>, file = IMAGE) => new FeatureCache({ ...base, ...parts }, dir).keyOf(file);
  const k0 = await key({});
  assert.equal(await key({}, copy), k0, 'same bytes elsewhere: same entry');
  const others = [
    await key({}, edited),
    await key({ weights: await weightsHash(m2) }),
    await key({ cutAt: 'block_16_project_BN' }),
    await key({ imageSize: 96 }),
    await key({ backbone: 'vgg16' }),
  ];
  others.forEach((k, i) => assert.notEqual(k, k0, `variant ${i}`));
  assert.equal(new Set(others).size, others.length);

  const cache = new FeatureCache(base, dir);
  await cache.put(k0, Float32Array.from([1, 2, 3]));
  assert.deepEqual(await cache.get(k0, 3), Float32Array.from([1, 2, 3]));
  assert.equal(await cache.get(k0, 4), null, 'an entry of the wrong length is not used');
  assert.equal(await cache.get(others[0], 3), null);
  m1.dispose();
  m2.dispose();
});

test('cxr cache info|clear report and empty the folder CXR_CACHE_DIR names', async () => {
  const dir = scratch('cli-cache');
  const cache = new FeatureCache({ backbone: 'mobilenet_v2', cutAt: 'out_relu', imageSize: 224, weights: 'w' }, dir);
  await cache.put(await cache.keyOf(requireShared(IMAGE)), new Float32Array(1280));
  const cxr = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CXR_CACHE_DIR: dir } });
  const info = cxr('cache', 'info', '--json');
  assert.equal(info.status, 0, info.stderr);
  assert.deepEqual(JSON.parse(info.stdout), { dir, entries: 1, bytes: 5120, auditRecords: 0, mapRecords: 0 });
  const cleared = cxr('cache', 'clear');
  assert.equal(cleared.status, 0, cleared.stderr);
  assert.match(cleared.stdout, /1 stored frozen outputs/);
  assert.equal(cacheInfo(dir).entries, 0);
  assert.equal(cxr('cache', 'wipe').status, 2);
});

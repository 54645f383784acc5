import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cacheInfo } from '../../server/src/engine/cache/featureCache';
import { MapCache } from '../../server/src/engine/cache/mapCache';
import { Engine } from '../../server/src/engine/engine';
import { trainedModelManifest } from '../../server/src/engine/runStore';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const TEST_IMAGES = 6;

let runDir: string;
let cacheDir: string;

/** Engine log lines: "Inference for <run> runs on ..." marks a forward pass's session being opened. */
function engineWithLog(): { engine: Engine; lines: string[] } {
  const lines: string[] = [];
  return { engine: new Engine({ log: (m) => lines.push(m) }), lines };
}

const opened = (lines: string[]): boolean => lines.some((l) => l.startsWith('Inference for '));

before(async () => {
  cacheDir = scratch('map-cache');
  process.env.CXR_CACHE_DIR = cacheDir;
  runDir = path.join(scratch('map-cache-runs'), 'run');
  const { engine } = engineWithLog();
  await engine.train({ data: requireShared(CI_TINY), out: runDir, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 2, seed: 5, imageSize: 96 });
});

after(() => {
  delete process.env.CXR_CACHE_DIR;
  delete process.env.CXR_FEATURE_CACHE;
});

test('an evaluation stores every image\'s maps; a CAM grid of the same images then runs no forward pass and draws the same figure', async () => {
  const { engine: evaluator } = engineWithLog();
  const evaluation = await evaluator.evaluate({ run: runDir, data: CI_TINY, split: 'test' });
  assert.equal(evaluation.n, TEST_IMAGES);
  assert.equal(cacheInfo(cacheDir).mapRecords, TEST_IMAGES);

  const cached = engineWithLog();
  const fromCache = await cached.engine.camGrid({ run: runDir, data: CI_TINY, out: path.join(scratch('grids'), 'cached.png') });
  assert.equal(opened(cached.lines), false, `the grid opened a forward pass: ${cached.lines.join(' | ')}`);

  process.env.CXR_FEATURE_CACHE = 'off';
  try {
    const computed = engineWithLog();
    const fresh = await computed.engine.camGrid({ run: runDir, data: CI_TINY, out: path.join(scratch('grids'), 'computed.png') });
    assert.equal(opened(computed.lines), true, 'with the cache off the grid runs its own pass');
    assert.deepEqual(fs.readFileSync(fromCache.out), fs.readFileSync(fresh.out), 'the stored maps draw the same figure, byte for byte');
    assert.equal(fromCache.correct, fresh.correct);
    // The evaluation's own predictions agree with the grid's captions.
    assert.equal(fresh.correct, evaluation.predictions.filter((p) => p.correct).length);
  } finally {
    delete process.env.CXR_FEATURE_CACHE;
  }
});

test('the map cache\'s key changes with the image\'s bytes, the model\'s weight files and the input size', async () => {
  const dir = scratch('map-keys');
  const image = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');
  const copy = path.join(dir, 'copy.jpeg');
  const edited = path.join(dir, 'edited.jpeg');
  fs.copyFileSync(image, copy);
  const bytes = fs.readFileSync(image);
  bytes[bytes.length - 3] ^= 0xff;
  fs.writeFileSync(edited, bytes);

  const manifest = trainedModelManifest(runDir);
  const cache = (await MapCache.forModel(manifest, 96))!;
  assert.equal(await cache.keyOf(image), await cache.keyOf(copy), 'the key is the content, not the path');
  assert.notEqual(await cache.keyOf(image), await cache.keyOf(edited));
  assert.notEqual(await (await MapCache.forModel(manifest, 128))!.keyOf(image), await cache.keyOf(image));

  // The same model folder with one weight changed: another key, so the old entries are never read for it.
  const changed = path.join(dir, 'model');
  fs.cpSync(path.dirname(manifest), changed, { recursive: true });
  const weightsFile = path.join(changed, 'weights.bin');
  const weights = fs.readFileSync(weightsFile);
  weights[0] ^= 0x01;
  fs.writeFileSync(weightsFile, weights);
  const other = (await MapCache.forModel(path.join(changed, 'weights_manifest.json'), 96))!;
  assert.notEqual(await other.keyOf(image), await cache.keyOf(image));

  // A damaged entry reads as a miss (and is computed again), never as maps.
  const key = await cache.keyOf(image);
  const entry = fs.readdirSync(path.join(cacheDir, 'maps'), { recursive: true }).map(String).find((f) => f.endsWith(`${key}.json`));
  assert.ok(entry, 'the evaluation stored this image');
  assert.ok(await cache.get(key));
  fs.writeFileSync(path.join(cacheDir, 'maps', entry), '{"probabilities":[1,0');
  assert.equal(await cache.get(key), null);
});

test('with the cache off nothing is stored', async () => {
  process.env.CXR_FEATURE_CACHE = 'off';
  try {
    assert.equal(await MapCache.forModel(trainedModelManifest(runDir), 96), null);
  } finally {
    delete process.env.CXR_FEATURE_CACHE;
  }
});

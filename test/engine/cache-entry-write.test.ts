import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { clearCache, FeatureCache } from '../../server/src/engine/cache/featureCache';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, requireShared } from '../helpers/shared';

const scratch = scratchDirFactory();

test('a cache entry is written again after the cache was cleared in the same process (its folder made anew)', async () => {
  const dir = scratch('entry-write');
  const cache = new FeatureCache({ backbone: 'mobilenet_v2', cutAt: 'out_relu', imageSize: 224, weights: 'w' }, dir);
  const key = await cache.keyOf(requireShared(path.join(CI_TINY, 'test', 'Covid', '0102.jpeg')));
  await cache.put(key, Float32Array.from([1, 2]));
  assert.equal(clearCache(dir).entries, 1);
  await cache.put(key, Float32Array.from([3, 4]));
  assert.deepEqual(await cache.get(key, 2), Float32Array.from([3, 4]));
});

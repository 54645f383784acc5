import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NPM_ROOT_MAX_AGE_MS, npmRootKey, rememberedNpmRoot } from '../../server/src/engine/backend/globalNpmRoot';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();

test('npm root -g is asked once, remembered per npm setting, and asked again when a setting or a day changes it', () => {
  const dir = scratch('npm-root');
  const env = { PATH: '/usr/bin', HOME: '/home/someone' };
  let asked = 0;
  const ask = (answer: string | null) => () => {
    asked++;
    return answer;
  };
  const t = 1_000_000;
  assert.equal(rememberedNpmRoot(ask('/usr/lib/node_modules'), env, dir, t), '/usr/lib/node_modules');
  assert.equal(asked, 1);
  assert.equal(rememberedNpmRoot(ask('/elsewhere'), env, dir, t + 1000), '/usr/lib/node_modules', 'remembered');
  assert.equal(asked, 1, 'npm was not started again');

  const prefixed = { ...env, npm_config_prefix: '/opt/npm' };
  assert.notEqual(npmRootKey(prefixed), npmRootKey(env));
  assert.equal(rememberedNpmRoot(ask('/opt/npm/lib/node_modules'), prefixed, dir, t + 2000), '/opt/npm/lib/node_modules', 'another prefix asks npm');
  assert.equal(rememberedNpmRoot(ask('/usr/local/lib/node_modules'), { ...env, PATH: '/usr/local/bin:/usr/bin' }, dir, t + 3000), '/usr/local/lib/node_modules', 'another PATH (another npm) asks npm');
  assert.equal(asked, 3);
  assert.equal(rememberedNpmRoot(ask('/after/a/day'), env, dir, t + NPM_ROOT_MAX_AGE_MS + 1), '/after/a/day', 'a day-old answer is asked again');
  assert.equal(asked, 4);
});

test('no npm on the PATH is remembered too, and the cache off or damaged means asking', () => {
  const dir = scratch('npm-root-null');
  const env = { PATH: '/nowhere' };
  let asked = 0;
  const ask = () => {
    asked++;
    return null;
  };
  assert.equal(rememberedNpmRoot(ask, env, dir), null);
  assert.equal(rememberedNpmRoot(ask, env, dir), null);
  assert.equal(asked, 1);
  for (const f of fs.readdirSync(path.join(dir, 'env'))) fs.writeFileSync(path.join(dir, 'env', f), '{"root": 7');
  assert.equal(rememberedNpmRoot(ask, env, dir), null);
  assert.equal(asked, 2, 'a damaged entry is not used');
  process.env.CXR_FEATURE_CACHE = 'off';
  try {
    const off = scratch('npm-root-off');
    rememberedNpmRoot(ask, env, off);
    assert.equal(asked, 3);
    assert.equal(fs.existsSync(path.join(off, 'env')), false, 'nothing written with the cache off');
  } finally {
    delete process.env.CXR_FEATURE_CACHE;
  }
});

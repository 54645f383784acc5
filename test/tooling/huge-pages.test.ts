/**
 * The engine's processes ask glibc for transparent huge pages only where that changes something, and dist/cli.js
 * starts the CLI with that environment (the launcher's child reports it in `cxr doctor --json`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { HUGE_PAGES_TUNABLE, hugePagesEnv } from '../../server/src/launch/hugePages';
import { repoRoot } from '../../server/src/engine/locations';

const MADVISE = { glibc: true, transparentHugePages: 'madvise' } as const;

test('hugePagesEnv: added on glibc with madvise-mode huge pages, appended to other tunables, never twice', () => {
  assert.equal(hugePagesEnv({ PATH: '/bin' }, MADVISE)?.GLIBC_TUNABLES, HUGE_PAGES_TUNABLE);
  assert.equal(hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, MADVISE)?.GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${HUGE_PAGES_TUNABLE}`);
  assert.equal(hugePagesEnv({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, MADVISE), null, "the user's own choice stays");
  assert.equal(hugePagesEnv({ GLIBC_TUNABLES: HUGE_PAGES_TUNABLE }, MADVISE), null, 'a started process does not start another');
  assert.equal(hugePagesEnv({ CXR_HUGE_PAGES: 'off' }, MADVISE), null);
  assert.equal(hugePagesEnv({}, { glibc: true, transparentHugePages: 'always' }), null, 'already huge pages everywhere');
  assert.equal(hugePagesEnv({}, { glibc: true, transparentHugePages: 'never' }), null);
  assert.equal(hugePagesEnv({}, { glibc: false, transparentHugePages: 'madvise' }), null, 'musl, macOS, Windows');
  const env = { PATH: '/bin' };
  hugePagesEnv(env, MADVISE);
  assert.deepEqual(env, { PATH: '/bin' }, 'the given environment is not changed');
});

test('dist/cli.js starts the CLI with the environment hugePagesEnv gives, and passes its exit code on', (t) => {
  const cli = path.join(repoRoot(), 'dist', 'cli.js');
  if (!fs.existsSync(path.join(repoRoot(), 'dist', 'cliMain.js'))) return t.skip('dist/ is not built (npm run build)');
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  delete env.CXR_HUGE_PAGES;
  const expected = hugePagesEnv(env)?.GLIBC_TUNABLES;
  const run = spawnSync(process.execPath, [cli, 'doctor', '--json'], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { process: { glibcTunables: string | null } };
  assert.equal(report.process.glibcTunables, expected ?? null);
  const off = spawnSync(process.execPath, [cli, 'doctor', '--json'], { env: { ...env, CXR_HUGE_PAGES: 'off' }, encoding: 'utf8', timeout: 120_000 });
  assert.equal((JSON.parse(off.stdout) as { process: { glibcTunables: string | null } }).process.glibcTunables, null);
  const bad = spawnSync(process.execPath, [cli, 'no-such-command'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2, 'the CLI\'s usage error comes back through the launcher');
});

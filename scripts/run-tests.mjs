#!/usr/bin/env node
// Runs node's test runner over the TypeScript test files given: suite folders under test/ (searched for *.test.ts)
// or single test files, one file at a time (they share two CPU cores). Node 20's --test does not expand globs or find
// .ts files by itself.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const targets = process.argv.slice(2);
if (targets.length === 0) {
  console.error('usage: run-tests.mjs <suite folder or test file>... (e.g. test/engine test/protocol/handshake.test.ts)');
  process.exit(2);
}
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
};
for (const target of targets) {
  if (!existsSync(target)) {
    console.error(`test suite folder or file not found: ${target}`);
    process.exit(2);
  }
  if (statSync(target).isDirectory()) walk(target);
  else if (target.endsWith('.test.ts')) files.push(target);
  else {
    console.error(`not a test file (*.test.ts): ${target}`);
    process.exit(2);
  }
}
if (files.length === 0) {
  console.error(`no test files (*.test.ts) in ${targets.join(', ')}: refusing to report success`);
  process.exit(1);
}
// The tests' feature cache starts empty and is removed afterwards, never the user's own cache.
const cacheDir = process.env.CXR_CACHE_DIR ? null : mkdtempSync(join(tmpdir(), 'cxr-test-cache-'));
const env = cacheDir ? { ...process.env, CXR_CACHE_DIR: cacheDir } : process.env;
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env });
if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
process.exit(r.status ?? 1);

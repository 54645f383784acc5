#!/usr/bin/env node
// Runs node's test runner over the TypeScript test files of the given suites (folders under test/), one file at a
// time (they share two CPU cores). Node 20's --test does not expand globs or find .ts files by itself.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const suites = process.argv.slice(2);
if (suites.length === 0) {
  console.error('usage: run-tests.mjs <suite folder>... (e.g. test/engine test/protocol)');
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
for (const suite of suites) {
  if (!existsSync(suite)) {
    console.error(`test suite folder not found: ${suite}`);
    process.exit(2);
  }
  walk(suite);
}
if (files.length === 0) {
  console.error(`no test files (*.test.ts) in ${suites.join(', ')}: refusing to report success`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

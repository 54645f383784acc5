#!/usr/bin/env node
// Runs node's test runner over the TypeScript test files given: suite folders under test/ (searched for *.test.ts)
// or single test files, one file at a time (they share two CPU cores). Node 20's --test does not expand globs or find
// .ts files by itself.
//
// `--retries N` (used for the code-server e2e suite only) runs each file in its own test process and runs a failed
// file again, up to N times. The UI tests drive a real VS Code in a real browser on a 2-core machine, where a webview
// taking focus late can still close a quick input under a test; a file that fails and then passes is reported as
// flaky by name at the end (its failing attempt's output stays in the log above), and a file that fails every attempt
// fails the run.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
let retries = 0;
const retriesAt = args.indexOf('--retries');
if (retriesAt >= 0) {
  retries = Number(args[retriesAt + 1]);
  if (!Number.isInteger(retries) || retries < 0) {
    console.error(`--retries needs a whole number, got "${args[retriesAt + 1]}"`);
    process.exit(2);
  }
  args.splice(retriesAt, 2);
}
const targets = args;
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
const runFiles = (list) => spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...list], { stdio: 'inherit', env }).status ?? 1;
let status;
if (retries === 0) {
  status = runFiles(files);
} else {
  const flaky = [];
  const failed = [];
  for (const file of files) {
    let passed = false;
    for (let attempt = 1; attempt <= retries + 1 && !passed; attempt++) {
      if (attempt > 1) console.log(`# run-tests: ${file} failed; running it again (attempt ${attempt} of ${retries + 1})`);
      passed = runFiles([file]) === 0;
      if (passed && attempt > 1) flaky.push(file);
    }
    if (!passed) failed.push(file);
  }
  status = failed.length === 0 ? 0 : 1;
  console.log(`# run-tests: ${files.length - failed.length} of ${files.length} files passed`);
  if (flaky.length) console.log(`# run-tests: FLAKY (failed, then passed on a retry): ${flaky.join(', ')}`);
  if (failed.length) console.log(`# run-tests: FAILED on every attempt: ${failed.join(', ')}`);
}
if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
process.exit(status);

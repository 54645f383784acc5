/**
 * scripts/run-tests.mjs, the runner behind `npm test`: it takes suite folders and single test files, and its exit
 * status says whether the tests passed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { scratchDirFactory } from '../helpers/scratch';

const ROOT = path.resolve(__dirname, '..', '..');
const scratch = scratchDirFactory();

function runTests(...targets: string[]): { code: number | null; output: string } {
  // NODE_TEST_CONTEXT marks a process as a child of the test runner, which would then refuse to run files itself.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-tests.mjs'), ...targets], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, output: r.stdout + r.stderr };
}

function writeTest(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `import { test } from 'node:test';\nimport assert from 'node:assert/strict';\n${body}\n`);
  return file;
}

test('runs one test file given by path, and a folder of them', () => {
  const dir = scratch('run-tests');
  const passing = writeTest(dir, 'a.test.ts', "test('one-file-marker', () => assert.equal(1 + 1, 2));");
  writeTest(dir, 'b.test.ts', "test('folder-marker', () => assert.ok(true));");
  const one = runTests(passing);
  assert.equal(one.code, 0, one.output);
  assert.match(one.output, /one-file-marker/);
  assert.doesNotMatch(one.output, /folder-marker/);
  const folder = runTests(dir);
  assert.equal(folder.code, 0, folder.output);
  assert.match(folder.output, /one-file-marker[\s\S]*folder-marker|folder-marker[\s\S]*one-file-marker/);
});

test('exits 1 when a test fails, 2 on a path that is missing or not a test file', () => {
  const dir = scratch('run-tests-fail');
  const failing = writeTest(dir, 'c.test.ts', "test('fails', () => assert.equal(1, 2));");
  assert.equal(runTests(failing).code, 1);
  const missing = runTests(path.join(dir, 'nope.test.ts'));
  assert.equal(missing.code, 2);
  assert.match(missing.output, /not found/);
  const notATest = runTests(path.join(ROOT, 'README.md'));
  assert.equal(notATest.code, 2);
  assert.match(notATest.output, /not a test file/);
});

test('--retries runs a failed file again: passing on a retry is reported as flaky, failing every attempt fails', () => {
  const dir = scratch('run-tests-retry');
  // Fails on its first run only: a marker file records that it ran.
  const marker = path.join(dir, 'ran-once');
  const flaky = writeTest(
    dir,
    'flaky.test.ts',
    `import * as fs from 'node:fs';\ntest('flaky-marker', () => { const first = !fs.existsSync(${JSON.stringify(marker)}); fs.writeFileSync(${JSON.stringify(marker)}, ''); assert.equal(first, false); });`,
  );
  const passing = writeTest(dir, 'steady.test.ts', "test('steady-marker', () => assert.ok(true));");
  const once = runTests('--retries', '1', flaky, passing);
  assert.equal(once.code, 0, once.output);
  assert.match(once.output, /FLAKY \(failed, then passed on a retry\): .*flaky\.test\.ts/);
  assert.doesNotMatch(once.output, /FLAKY.*steady\.test\.ts/);
  assert.match(once.output, /2 of 2 files passed/);

  const failing = writeTest(dir, 'always.test.ts', "test('always-fails', () => assert.equal(1, 2));");
  const twice = runTests('--retries', '1', failing, passing);
  assert.equal(twice.code, 1, twice.output);
  assert.equal(twice.output.match(/not ok \d+ - always-fails/g)?.length, 2, 'the failing file ran twice');
  assert.match(twice.output, /FAILED on every attempt: .*always\.test\.ts/);
  assert.match(twice.output, /1 of 2 files passed/);

  const bad = runTests('--retries', 'x', passing);
  assert.equal(bad.code, 2);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CI_TINY, MOBILENET_SAMPLES, MOBILENET_TOP_MANIFEST, requireShared } from '../helpers/shared';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');

function cxr(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('cxr doctor --json reports the backend in use and why the others are not', () => {
  const r = cxr('doctor', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.name, 'wasm');
  assert.ok(report.reason.length > 0);
  const tensorflow = report.candidates.find((c: { name: string }) => c.name === 'tensorflow');
  assert.equal(tensorflow.available, false);
  assert.match(tensorflow.why, /not installed/i);
  assert.ok(report.versions['tfjs-core']);
});

test('cxr predict with raw ImageNet with-top weights labels the sample photo', () => {
  requireShared(MOBILENET_TOP_MANIFEST);
  const r = cxr(
    'predict', '--backbone', 'mobilenet_v2', '--weights', MOBILENET_TOP_MANIFEST,
    '--labels', path.join(MOBILENET_SAMPLES, 'imagenet_labels.txt'), path.join(MOBILENET_SAMPLES, 'cat.jpg'), '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const [prediction] = JSON.parse(r.stdout);
  assert.equal(prediction.label, 'Egyptian cat');
  assert.equal(Object.keys(prediction.probabilities).length, 5);
  assert.ok(prediction.probabilities['Egyptian cat'] > 0.7);
});

test('cxr exits non-zero with a message that says what to do', () => {
  const missing = cxr('evaluate', '/nonexistent/run', CI_TINY, '--json');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Run folder not found/);
  assert.equal(JSON.parse(missing.stdout).error.code, 'NOT_FOUND');

  const usage = cxr('train', CI_TINY);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Missing --out/);

  const unknown = cxr('train', CI_TINY, '--out', '/tmp/x', '--epochs', 'many');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--epochs needs a number/);

  const help = cxr('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /research use only/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CI_TINY, MOBILENET_SAMPLES, MOBILENET_TOP_MANIFEST, requireShared } from '../helpers/shared';
import { AUTO_BACKENDS, BACKEND_NAMES, type BackendName } from '../../server/src/engine/names';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');

function cxr(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return cxrWith({}, ...args);
}

function cxrWith(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface DoctorReport {
  name: string;
  reason: string;
  candidates: { name: string; available: boolean; why: string }[];
  versions: Record<string, string>;
}

// Holds on any machine: with or without @tensorflow/tfjs-node, and under CXR_BACKEND.
test('cxr doctor --json reports the backend in use (the best available, or the one CXR_BACKEND forces) and why not the others', () => {
  const r = cxr('doctor', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as DoctorReport;
  assert.deepEqual(report.candidates.map((c) => c.name), [...BACKEND_NAMES], 'every backend');
  const forced = process.env.CXR_BACKEND;
  // webgpu is opt-in: only the automatic order ranks backends.
  const auto = report.candidates.filter((c) => AUTO_BACKENDS.includes(c.name as BackendName));
  const best = auto.find((c) => c.available);
  assert.ok(best, 'cpu is always available');
  assert.equal(report.name, forced ?? best.name, report.reason);
  assert.ok(report.reason.length > 0);
  for (const c of report.candidates) assert.ok(c.why.length > 0, `no reason given for ${c.name}`);
  if (!forced) {
    for (const c of auto.slice(0, auto.indexOf(best))) assert.equal(c.available, false, `${c.name} ranks higher and is available`);
  }
  const tensorflow = report.candidates.find((c) => c.name === 'tensorflow')!;
  if (!tensorflow.available) assert.match(tensorflow.why, /not installed|failed|version/i);
  assert.ok(report.versions['tfjs-core']);

  const cpu = JSON.parse(cxrWith({ CXR_BACKEND: 'cpu' }, 'doctor', '--json').stdout) as DoctorReport;
  assert.equal(cpu.name, 'cpu');
  assert.match(cpu.reason, /CXR_BACKEND=cpu/);
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const scratch = scratchDirFactory();

function cxr(env: Record<string, string>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('cxr doctor says which engine runs the passes without gradients', () => {
  const on = cxr({}, 'doctor', '--json');
  assert.equal(on.code, 0, on.stderr);
  const report = JSON.parse(on.stdout);
  assert.equal(report.gradientFree.engine, 'onnxruntime');
  assert.ok(report.gradientFree.threads >= 1);
  const off = cxr({ CXR_ONNXRUNTIME: 'off' }, 'doctor');
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /passes without gradients.*tfjs \(turned off by CXR_ONNXRUNTIME=off\)/);
});

test('without ONNX Runtime, training, evaluation and CAM run on tfjs and still give every class\'s maps', () => {
  const env = { CXR_ONNXRUNTIME: 'off' };
  const run = path.join(scratch('ort-off'), 'run');
  const trained = cxr(env, 'train', requireShared(CI_TINY), '--out', run, '--weights', requireShared(MOBILENET_NOTOP_MANIFEST),
    '--epochs', '2', '--val-fraction', '0', '--json');
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stderr, /frozen layers run on tfjs: turned off by CXR_ONNXRUNTIME=off/i);
  const cam = cxr(env, 'cam', run, path.join(CI_TINY, 'test', 'Covid', '0102.jpeg'), '--out', path.join(run, 'cam.png'), '--json');
  assert.equal(cam.code, 0, cam.stderr);
  const result = JSON.parse(cam.stdout);
  assert.equal(result.engine, 'tfjs');
  assert.equal(result.maps.length, 3);
  const evaluation = cxr(env, 'evaluate', run, CI_TINY, '--json');
  assert.equal(evaluation.code, 0, evaluation.stderr);
  assert.equal(JSON.parse(evaluation.stdout).n, 6);
});

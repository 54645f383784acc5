import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendReport } from '../../server/src/engine/api';
import { backendReport, initBackend } from '../../server/src/engine/backend/select';
import { WASM_GRAD_KERNELS } from '../../server/src/engine/backend/wasmKernels/register';
import { tmpDir } from '../helpers/shared';

const REPO = path.resolve(__dirname, '..', '..');
const SELECT = path.join(REPO, 'server', 'src', 'engine', 'backend', 'select.ts');
const WASM_DIST = path.join(REPO, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];

type ChildResult = { ok: true; report: BackendReport; active: string } | { ok: false; code: string; message: string };

/** initBackend in a fresh process (a fresh tfjs), with the given environment and options. */
function initInChild(env: Record<string, string | undefined>, opts: object = {}, modulePath = SELECT, nodeArgs = ['--import', 'tsx']): ChildResult {
  const code = `
    const tf = require('@tensorflow/tfjs-core');
    require(${JSON.stringify(modulePath)}).initBackend(${JSON.stringify(opts)}).then(
      (report) => console.log('RESULT ' + JSON.stringify({ ok: true, report, active: tf.getBackend() })),
      (e) => console.log('RESULT ' + JSON.stringify({ ok: false, code: e.code, message: e.message })));`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.CXR_BACKEND;
  for (const [k, v] of Object.entries(env)) {
    if (v == null) delete childEnv[k];
    else childEnv[k] = v;
  }
  const out = execFileSync(process.execPath, [...nodeArgs, '-e', code], {
    cwd: REPO, env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `child printed no result:\n${out}`);
  return JSON.parse(line.slice('RESULT '.length)) as ChildResult;
}

const temps: string[] = [];
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('backend selection', () => {
  test('chooses wasm here, says why, and why not tensorflow', async () => {
    delete process.env.CXR_BACKEND;
    const report = await initBackend();
    assert.equal(report.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(report.reason, /tensorflow not installed/);
    assert.match(report.reason, /WebAssembly \(XNNPACK/);

    const byName = Object.fromEntries(report.candidates.map((c) => [c.name, c]));
    assert.deepEqual(report.candidates.map((c) => c.name), ['tensorflow', 'webgpu', 'wasm', 'cpu']);
    assert.equal(report.device.kind, 'cpu');
    assert.deepEqual(report.warnings, []);
    assert.match(byName.webgpu.why, /opt-in only/);
    assert.equal(byName.tensorflow.available, false);
    assert.match(byName.tensorflow.why, /not installed/);
    assert.match(byName.tensorflow.why, /@tensorflow\/tfjs-node/);
    assert.equal(byName.wasm.available, true);
    assert.equal(byName.cpu.available, true);
    assert.match(byName.cpu.why, /lower priority than wasm/);

    assert.equal(report.versions['tfjs-core'], tf.version_core);
    assert.match(report.versions['tfjs-backend-wasm'], /^\d+\.\d+\.\d+/);
    assert.equal(report.versions.node, process.versions.node);
    assert.deepEqual(report.customKernels, [...WASM_GRAD_KERNELS]);
    for (const name of WASM_GRAD_KERNELS) assert.ok(tf.getKernel(name, 'wasm'), `${name} not registered on wasm`);
    // Plain JSON: the report travels over JSON-RPC.
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  test('later calls return the cached report; a different preference switches', async () => {
    const first = await initBackend();
    assert.equal(await initBackend(), first);
    assert.equal(await initBackend({ prefer: 'wasm' }), first);
    assert.equal(backendReport(), first);

    const cpu = await initBackend({ prefer: 'cpu' });
    assert.equal(cpu.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.match(cpu.reason, /preferred by the caller/);
    assert.deepEqual(cpu.customKernels, []);
    assert.equal(backendReport(), cpu);

    const back = await initBackend({ prefer: 'wasm' });
    assert.equal(back.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(back.customKernels, [...WASM_GRAD_KERNELS]);
    // Not tried because wasm was preferred, yet the report still says why tensorflow is out.
    assert.match(back.candidates[0].why, /not installed/);
  });

  test('CXR_BACKEND=cpu forces the cpu backend (fresh process)', () => {
    const r = initInChild({ CXR_BACKEND: 'cpu' }, { prefer: 'wasm' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.report.name, 'cpu');
    assert.equal(r.active, 'cpu');
    assert.match(r.report.reason, /CXR_BACKEND=cpu forces it/);
    assert.equal(r.report.versions['tfjs-backend-cpu'], tf.version_core);
    assert.deepEqual(r.report.customKernels, []);
    const wasm = r.report.candidates.find((c) => c.name === 'wasm');
    assert.match(wasm?.why ?? '', /not considered: CXR_BACKEND=cpu/);
  });

  test('CXR_BACKEND naming an unavailable or unknown backend fails clearly', () => {
    const tensorflow = initInChild({ CXR_BACKEND: 'tensorflow' });
    assert.ok(!tensorflow.ok);
    assert.equal(tensorflow.code, 'BACKEND_UNAVAILABLE');
    assert.match(tensorflow.message, /tensorflow: not installed/);
    assert.match(tensorflow.message, /Unset CXR_BACKEND/);

    const unknown = initInChild({ CXR_BACKEND: 'metal' });
    assert.ok(!unknown.ok);
    assert.equal(unknown.code, 'INVALID_ARGUMENT');
    assert.match(unknown.message, /CXR_BACKEND=metal is not a backend: use one of tensorflow, webgpu, wasm, cpu/);
  });

  test('wasmDir points at the .wasm files; a wrong one is an error, not a silent fallback', () => {
    const dir = tmpDir('wasmdir');
    temps.push(dir);
    for (const f of WASM_FILES) fs.copyFileSync(path.join(WASM_DIST, f), path.join(dir, f));
    const good = initInChild({}, { wasmDir: dir });
    assert.ok(good.ok, JSON.stringify(good));
    assert.equal(good.report.name, 'wasm');
    assert.ok(good.report.reason.includes(`from ${dir} (option)`), good.report.reason);

    const empty = tmpDir('wasmdir-empty');
    temps.push(empty);
    const bad = initInChild({}, { wasmDir: empty });
    assert.ok(!bad.ok);
    assert.equal(bad.code, 'NOT_FOUND');
    assert.match(bad.message, /does not hold/);
  });

  test('an esbuild bundle finds the .wasm files in a wasm/ folder next to itself', async () => {
    const esbuild = await import('esbuild');
    const dir = tmpDir('bundle');
    temps.push(dir);
    const outfile = path.join(dir, 'engine.js');
    await esbuild.build({ entryPoints: [SELECT], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'silent' });
    fs.mkdirSync(path.join(dir, 'wasm'));
    for (const f of WASM_FILES) fs.copyFileSync(path.join(WASM_DIST, f), path.join(dir, 'wasm', f));
    // The child requires tfjs-core for its own check; the bundle itself must need nothing outside `dir`.
    const r = initInChild({ NODE_PATH: path.join(REPO, 'node_modules') }, {}, outfile, []);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.report.name, 'wasm');
    assert.ok(r.report.reason.includes(`from ${path.join(dir, 'wasm')} (bundle)`), r.report.reason);
    assert.match(r.report.candidates[0].why, /not installed/);
  });
});

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { probeTfjsNode } from '../../server/src/engine/backend/tensorflowNode';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, MOBILENET_SAMPLES, MOBILENET_TOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { readStandInLog, writeStandInTfjsNode } from '../helpers/standInTfjsNode';

const REPO = path.resolve(__dirname, '..', '..');
const SELECT = path.join(REPO, 'server', 'src', 'engine', 'backend', 'select.ts');
const DEVICE_FAILURE = path.join(REPO, 'server', 'src', 'engine', 'backend', 'deviceFailure.ts');
const CLI = path.join(REPO, 'server', 'src', 'cli', 'main.ts');

const temps: string[] = [];
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});
function scratch(prefix: string): string {
  const d = tmpDir(prefix);
  temps.push(d);
  return d;
}

/** Runs `body` (CommonJS, with `select`, `tf` and `out(value)` in scope) in a fresh Node process: a fresh globalThis. */
function inChild(body: string, env: Record<string, string | undefined>): Record<string, unknown> {
  const code = `
    const tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-core/dist/register_all_gradients');
    const select = require(${JSON.stringify(SELECT)});
    const deviceFailure = require(${JSON.stringify(DEVICE_FAILURE)});
    const out = (v) => console.log('RESULT ' + JSON.stringify(v));
    (async () => { ${body} })().catch((e) => out({ thrown: { code: e.code, message: e.message } }));`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['CXR_BACKEND', 'CXR_TFJS_NODE', 'CXR_STAND_IN_LOG', 'CXR_STAND_IN_OOM_KERNEL']) delete childEnv[k];
  for (const [k, v] of Object.entries(env)) {
    if (v == null) delete childEnv[k];
    else childEnv[k] = v;
  }
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: REPO, env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `child printed no result:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
}

describe("the user's tfjs-node from another node_modules tree", () => {
  test('is found as the package folder, a node_modules folder, or a project folder; a wrong folder says why', () => {
    const project = scratch('tfn-project');
    const pkg = writeStandInTfjsNode(path.join(project, 'node_modules'));
    for (const dir of [pkg, path.join(project, 'node_modules'), project]) {
      const probe = probeTfjsNode({ tfjsNodePath: dir });
      assert.ok(probe.usable, `${dir}: ${probe.why}`);
      assert.equal(probe.found.packageName, '@tensorflow/tfjs-node');
      assert.equal(probe.found.dir, pkg);
      assert.equal(probe.found.origin, 'setting');
      assert.equal(probe.found.coreVersion, tf.version_core);
    }
    const empty = scratch('tfn-empty');
    const none = probeTfjsNode({ tfjsNodePath: empty });
    assert.equal(none.usable, false);
    assert.match(none.why, new RegExp(`neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed in ${empty}`));
    const missing = probeTfjsNode({ tfjsNodePath: path.join(empty, 'nope') });
    assert.match(missing.why, /does not exist/);
  });

  test('the GPU build is preferred when both are in the folder', () => {
    const project = scratch('tfn-both');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    const gpu = writeStandInTfjsNode(path.join(project, 'node_modules'), { packageName: '@tensorflow/tfjs-node-gpu' });
    const probe = probeTfjsNode({ tfjsNodePath: project });
    assert.ok(probe.usable, probe.why);
    assert.equal(probe.found.packageName, '@tensorflow/tfjs-node-gpu');
    assert.equal(probe.found.dir, gpu);
  });

  test('CXR_TFJS_NODE: the bundled tfjs-core computes on the backend the separately installed package registered', () => {
    const project = scratch('tfn-env');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    const log = path.join(project, 'kernels.log');
    const r = inChild(`
      const report = await select.initBackend();
      const x = tf.tensor2d([[1, 2], [3, 4]]);
      const y = tf.matMul(x, x);
      const g = tf.grad((a) => tf.sum(tf.mul(a, a)))(x);
      out({ report, active: tf.getBackend(), y: Array.from(await y.data()), g: Array.from(await g.data()) });`,
      { CXR_TFJS_NODE: project, CXR_STAND_IN_LOG: log });
    assert.equal(r.thrown, undefined, JSON.stringify(r.thrown));
    const report = r.report as { name: string; reason: string; versions: Record<string, string>; device: { kind: string }; warnings: string[]; candidates: { name: string; available: boolean }[] };
    assert.equal(report.name, 'tensorflow');
    assert.equal(r.active, 'tensorflow');
    assert.ok(report.reason.includes(`in ${path.join(project, 'node_modules', '@tensorflow', 'tfjs-node')} (CXR_TFJS_NODE)`), report.reason);
    assert.equal(report.versions['tfjs-node'], tf.version_core);
    assert.equal(report.device.kind, 'cpu');
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.candidates.map((c) => c.name), ['tensorflow', 'webgpu', 'wasm', 'cpu']);
    assert.deepEqual(r.y, [7, 10, 15, 22]);
    assert.deepEqual(r.g, [2, 4, 6, 8]);
    const kernels = readStandInLog(log).map((l) => l.kernel);
    assert.ok(kernels.includes('BatchMatMul'), `stand-in kernels that ran: ${kernels.join(', ')}`);
    assert.ok(kernels.includes('Multiply'), kernels.join(', '));
  });

  test('the global npm root is searched when nothing is named', () => {
    const prefix = scratch('tfn-global');
    const globalRoot = path.join(prefix, process.platform === 'win32' ? '' : 'lib', 'node_modules');
    writeStandInTfjsNode(globalRoot);
    assert.equal(execFileSync('npm', ['root', '-g'], { env: { ...process.env, npm_config_prefix: prefix }, encoding: 'utf8' }).trim(), globalRoot);
    const r = inChild(`out({ report: await select.initBackend() });`, { npm_config_prefix: prefix });
    const report = r.report as { name: string; reason: string };
    assert.equal(report.name, 'tensorflow');
    assert.match(report.reason, /\(global npm root\)/);
  });

  test('a tfjs-core version other than the bundled one is refused before anything of it loads', () => {
    const project = scratch('tfn-mismatch');
    writeStandInTfjsNode(path.join(project, 'node_modules'), { coreVersion: '4.21.0', version: '4.21.0' });
    const probe = probeTfjsNode({ tfjsNodePath: project });
    assert.equal(probe.usable, false);
    const expected = new RegExp(
      `refused: @tensorflow/tfjs-node 4\\.21\\.0 in .* uses @tensorflow/tfjs-core 4\\.21\\.0, but CXR Studio bundles ${tf.version_core.replace(/\./g, '\\.')}` +
        `.*Install @tensorflow/tfjs-node@${tf.version_core.replace(/\./g, '\\.')} there`,
    );
    assert.match(probe.why, expected);

    // Automatic choice: the CPU path, with a warning that carries the refusal (the stand-in's core throws if loaded).
    const auto = inChild(`out({ report: await select.initBackend() });`, { CXR_TFJS_NODE: project });
    const report = auto.report as { name: string; warnings: string[]; candidates: { name: string; available: boolean; why: string }[] };
    assert.equal(report.name, 'wasm');
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0], /^tensorflow was found but refused: /);
    assert.match(report.warnings[0], /using wasm on CPU instead$/);
    const tfCandidate = report.candidates.find((c) => c.name === 'tensorflow');
    assert.equal(tfCandidate?.available, false);
    assert.match(tfCandidate?.why ?? '', expected);

    const forced = inChild(`out({ report: await select.initBackend() });`, { CXR_TFJS_NODE: project, CXR_BACKEND: 'tensorflow' });
    const thrown = forced.thrown as { code: string; message: string };
    assert.equal(thrown.code, 'BACKEND_UNAVAILABLE');
    assert.match(thrown.message, expected);
    assert.doesNotMatch(thrown.message, /was loaded/);
  });

  test('an out-of-memory error on the GPU path is recognised and the thread falls back to the CPU with the reason', () => {
    const project = scratch('tfn-oom');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    const r = inChild(`
      const first = await select.initBackend();
      let error = null;
      try { for (let i = 0; i < 10; i++) await tf.add(tf.scalar(i), tf.scalar(1)).data(); } catch (e) { error = e; }
      const reason = deviceFailure.deviceFailureReason(error);
      const training = deviceFailure.trainingDeviceFailure(error, first, '/runs/x');
      const after = await select.fallBackToCpu(reason);
      const sum = await tf.add(tf.scalar(2), tf.scalar(3)).data();
      out({ first: first.name, reason, training: { code: training.code, message: training.message, details: training.details },
            after, active: tf.getBackend(), sum: sum[0] });`,
      { CXR_TFJS_NODE: project, CXR_STAND_IN_OOM_KERNEL: 'Add' });
    assert.equal(r.first, 'tensorflow');
    assert.match(String(r.reason), /^OOM when allocating tensor with shape\[8,7,7,1280\]/);
    const training = r.training as { code: string; message: string; details: Record<string, unknown> };
    assert.equal(training.code, 'BACKEND_UNAVAILABLE');
    assert.match(training.message, /^Training stopped: tensorflow on .* failed \(OOM when allocating tensor/);
    assert.match(training.message, /does not change device by itself: resume it on the CPU \(cxr train --resume --backend wasm/);
    assert.equal(training.details.deviceFailure, r.reason);
    const afterReport = r.after as { name: string; warnings: string[]; device: { kind: string } };
    assert.equal(afterReport.name, 'wasm');
    assert.equal(r.active, 'wasm');
    assert.equal(afterReport.device.kind, 'cpu');
    assert.match(afterReport.warnings[0], /^tensorflow on .* failed \(OOM when allocating tensor .*\); switched to wasm on the CPU$/);
    assert.equal(r.sum, 5);
  });

  test('inference that runs out of GPU memory is redone on the CPU, with a warning naming the reason', () => {
    requireShared(MOBILENET_TOP_MANIFEST);
    const project = scratch('tfn-oom-predict');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    const env: NodeJS.ProcessEnv = { ...process.env, CXR_TFJS_NODE: project, CXR_STAND_IN_OOM_KERNEL: 'Softmax' };
    delete env.CXR_BACKEND;
    const r = spawnSync(process.execPath, [
      '--import', 'tsx', CLI, 'predict', '--backbone', 'mobilenet_v2', '--weights', MOBILENET_TOP_MANIFEST,
      '--labels', path.join(MOBILENET_SAMPLES, 'imagenet_labels.txt'), path.join(MOBILENET_SAMPLES, 'cat.jpg'), '--json',
    ], { cwd: REPO, env, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: tensorflow on .* failed \(OOM when allocating tensor .*\); switched to wasm on the CPU/);
    const [prediction] = JSON.parse(r.stdout) as { label: string }[];
    assert.equal(prediction.label, 'Egyptian cat');
  });

  test('a training that runs out of GPU memory stops with the reason and leaves the run failed, not moved to the CPU', () => {
    requireShared(CI_TINY);
    requireShared(MOBILENET_NOTOP_MANIFEST);
    const project = scratch('tfn-oom-train');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    const run = path.join(project, 'run');
    const env: NodeJS.ProcessEnv = { ...process.env, CXR_TFJS_NODE: project, CXR_STAND_IN_OOM_KERNEL: '_FusedMatMul' };
    delete env.CXR_BACKEND;
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'train', CI_TINY, '--out', run, '--epochs', '1', '--weights', MOBILENET_NOTOP_MANIFEST], {
      cwd: REPO, env, encoding: 'utf8', timeout: 180_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /error \[BACKEND_UNAVAILABLE\]: Training stopped: tensorflow on .* failed \(OOM when allocating tensor/);
    const status = JSON.parse(fs.readFileSync(path.join(run, 'status.json'), 'utf8')) as { status: string; message: string };
    assert.equal(status.status, 'failed');
    assert.match(status.message, /OOM when allocating tensor/);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')) as { device: { backend: string } };
    assert.equal(config.device.backend, 'tensorflow');
  });
});

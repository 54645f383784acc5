import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ParityResult } from '../helpers/webgpuParity';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { relativeError } from '../helpers/weightAsserts';

/**
 * WebGPU (opt-in backend) against wasm. These tests need a WebGPU adapter: a real GPU, or on a machine without
 * one Mesa >= 25 lavapipe (software Vulkan), which scripts/install-vulkan-lavapipe.sh installs on Debian 12 from
 * bookworm-backports (install-e2e-deps.sh runs it; Debian's own Mesa 22 gives Dawn no adapter). Without an adapter
 * they FAIL, saying so; CXR_SKIP_WEBGPU=1 is the only way to leave them out, and it is never set in CI.
 */
const REPO = path.resolve(__dirname, '..', '..');
const HELPER = path.join(REPO, 'test', 'helpers', 'webgpuParity.ts');
const ENGINE = path.join(REPO, 'server', 'src', 'engine', 'engine.ts');
const NEEDS =
  'The WebGPU tests need a WebGPU adapter: a GPU with a Vulkan/Metal/D3D12 driver, or Mesa >= 25 lavapipe ' +
  '(run scripts/install-vulkan-lavapipe.sh as root on Debian 12). Set CXR_SKIP_WEBGPU=1 to leave them out on purpose.';
const skip = process.env.CXR_SKIP_WEBGPU === '1' ? 'CXR_SKIP_WEBGPU=1' : false;

const temps: string[] = [];
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CXR_BACKEND;
  delete env.CXR_TFJS_NODE;
  return env;
}

describe('webgpu backend (opt-in) on the machine\'s WebGPU adapter', { skip }, () => {
  test('forward pass, gradients, Grad-CAM, the weights hash and a short training match wasm', () => {
    const code = `require(${JSON.stringify(HELPER)}).webgpuParity().then(
      (r) => console.log('RESULT ' + JSON.stringify(r)),
      (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, env: childEnv(), encoding: 'utf8', timeout: 300_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `child printed no result (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
    const result = JSON.parse(line.slice('RESULT '.length)) as ParityResult & { error?: string };
    if (result.error) assert.fail(/adapter/i.test(result.error) ? `${result.error}\n${NEEDS}` : result.error);

    assert.equal(result.webgpu.name, 'webgpu');
    assert.equal(result.webgpu.device.kind, 'gpu');
    assert.match(result.webgpu.reason, /WebGPU through Dawn on /);
    assert.ok(result.webgpu.versions['tfjs-backend-webgpu'], JSON.stringify(result.webgpu.versions));

    const forward = relativeError(result.forward.webgpu, result.forward.wasm);
    assert.ok(forward < 1e-4, `forward differs by ${forward} (relative)`);
    assert.ok(result.gradients.length >= 8, `only ${result.gradients.length} gradients`);
    for (const g of result.gradients) {
      const err = relativeError(g.webgpu, g.wasm);
      assert.ok(err < 1e-3, `gradient of ${g.name} differs by ${err} (relative)`);
      assert.ok(g.wasm.some((v) => v !== 0), `gradient of ${g.name} is all zeros: the comparison would prove nothing`);
    }
    // Read back asynchronously from the GPU (a synchronous read has no way to work on webgpu in Node).
    const cam = relativeError(result.gradCam.webgpu, result.gradCam.wasm);
    assert.ok(cam < 1e-3, `Grad-CAM differs by ${cam} (relative)`);
    assert.ok(result.gradCam.wasm.some((v) => v > 0), 'the Grad-CAM map is all zeros: the comparison would prove nothing');
    assert.equal(result.weightsHash.webgpu[1], result.weightsHash.webgpu[0], 'the weights read back from the GPU hash as they did on the host');
    assert.equal(result.weightsHash.wasm[1], result.weightsHash.wasm[0]);
    const { wasm, webgpu } = result.losses;
    assert.ok(wasm.every((l, i) => i === 0 || l < wasm[i - 1]), `wasm loss did not fall at every step: ${wasm.join(', ')}`);
    for (let i = 0; i < wasm.length; i++) {
      assert.ok(Math.abs(webgpu[i] - wasm[i]) <= 1e-3 * Math.max(1, wasm[i]), `step ${i}: webgpu loss ${webgpu[i]} vs wasm ${wasm[i]}`);
    }
  });

  test('the engine trains on webgpu when asked and records the device in the run', () => {
    requireShared(CI_TINY);
    requireShared(MOBILENET_NOTOP_MANIFEST);
    const dir = tmpDir('webgpu-train');
    temps.push(dir);
    const run = path.join(dir, 'run');
    // 64x64 inputs keep the frozen MobileNetV2 pass short on a software GPU; the trained part is the same head.
    const request = { data: CI_TINY, out: run, backbone: 'mobilenet_v2', weights: MOBILENET_NOTOP_MANIFEST, epochs: 2, batchSize: 4, imageSize: 64, seed: 5 };
    // Then a CAM of the trained run, on the same engine.
    const image = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');
    const code = `const { Engine } = require(${JSON.stringify(ENGINE)});
      const logs = [];
      const engine = new Engine({ backend: 'webgpu', log: (m) => logs.push(m) });
      (async () => {
        const r = await engine.train(${JSON.stringify(request)});
        const cam = await engine.explain({ run: ${JSON.stringify(run)}, image: ${JSON.stringify(image)}, out: ${JSON.stringify(path.join(dir, 'cam.png'))} });
        return { ...r, cam: { predicted: cam.predicted, backendAfter: (await engine.init()).name }, logs };
      })().then((r) => console.log('RESULT ' + JSON.stringify(r)), (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, env: childEnv(), encoding: 'utf8', timeout: 300_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `child printed no result (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
    const result = JSON.parse(line.slice('RESULT '.length)) as {
      error?: string; status: string; backend: string; device: { kind: string }; history: { loss: number }[]; warnings: string[];
      cam: { predicted: string; backendAfter: string }; logs: string[];
    };
    if (result.error) assert.fail(result.error);
    assert.equal(result.status, 'completed');
    assert.equal(result.backend, 'webgpu');
    assert.equal(result.device.kind, 'gpu');
    assert.equal(result.history.length, 2);
    assert.ok(result.history.every((h) => Number.isFinite(h.loss)));
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')) as { device: { backend: string } };
    assert.equal(config.device.backend, 'webgpu');
    assert.ok(['Covid', 'Normal', 'Viral Pneumonia'].includes(result.cam.predicted), result.cam.predicted);
    assert.equal(result.cam.backendAfter, 'webgpu', result.logs.join('\n'));
    // The gradient-free passes run on ONNX Runtime on a GPU backend too (the graph's weights are read asynchronously).
    assert.ok(!result.logs.some((l) => l.startsWith('Inference runs on tfjs')), result.logs.join('\n'));
    assert.ok(fs.statSync(path.join(dir, 'cam.png')).size > 1000);
  });

  test('webgpu is never chosen automatically, and a webgpu that cannot start falls back to the CPU with the reason', () => {
    const code = `require(${JSON.stringify(path.join(REPO, 'server', 'src', 'engine', 'backend', 'select.ts'))}).initBackend(%OPTS%).then(
      (r) => console.log('RESULT ' + JSON.stringify(r)), (e) => console.log('RESULT ' + JSON.stringify({ error: e.message })));`;
    const auto = spawnSync(process.execPath, ['--import', 'tsx', '-e', code.replace('%OPTS%', '{}')], { cwd: REPO, env: childEnv(), encoding: 'utf8', timeout: 120_000 });
    const autoReport = JSON.parse(auto.stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as { name: string; candidates: { name: string; why: string }[] };
    assert.equal(autoReport.name, 'wasm');
    assert.match(autoReport.candidates.find((c) => c.name === 'webgpu')!.why, /never chosen automatically/);

    // No Vulkan driver: Dawn finds no adapter, the preference falls back to wasm with a warning naming the reason.
    const env = { ...childEnv(), VK_ICD_FILENAMES: path.join(REPO, 'no-such-icd.json'), VK_DRIVER_FILES: path.join(REPO, 'no-such-icd.json') };
    const failed = spawnSync(process.execPath, ['--import', 'tsx', '-e', code.replace('%OPTS%', "{ prefer: 'webgpu' }")], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 });
    const report = JSON.parse(failed.stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as { name: string; warnings: string[] };
    assert.equal(report.name, 'wasm');
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0], /^webgpu was asked for but Dawn found no WebGPU adapter .*; using wasm on CPU instead$/);
  });
});

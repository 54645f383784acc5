import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createWithProviderFallback, parseOrtProviderPreference, planOrtProviders } from '../../server/src/engine/backend/ortProviders';
import { onnxRuntimeReport, ortBindingDir } from '../../server/src/engine/backend/ortReport';
import { layersToOnnx } from '../../server/src/engine/onnx/fromLayers';

/** What onnxruntime-node 1.30's listSupportedBackends() returns on each platform (linux: measured here). */
const LINUX = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }];
const WINDOWS = [{ name: 'cpu', bundled: true }, { name: 'dml', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }];
const MACOS = [{ name: 'cpu', bundled: true }, { name: 'coreml', bundled: true }, { name: 'webgpu', bundled: true }];
const BIN = '/ort/bin';

describe('ONNX Runtime execution providers', () => {
  test('auto picks the platform GPU provider when it is there, else the CPU, and says why for each', () => {
    const noCuda = planOrtProviders({ supported: LINUX, bindingDir: BIN, platform: 'linux', fileExists: () => false });
    assert.deepEqual(noCuda.order, ['cpu']);
    const cuda = noCuda.statuses.find((s) => s.name === 'cuda');
    assert.equal(cuda?.available, false);
    assert.match(cuda?.why ?? '', /libonnxruntime_providers_cuda\.so is not installed \(reinstall onnxruntime-node without ONNXRUNTIME_NODE_INSTALL=skip/);
    assert.equal(noCuda.warning, undefined);

    const withCuda = planOrtProviders({ supported: LINUX, bindingDir: BIN, platform: 'linux', fileExists: (f) => f === path.join(BIN, 'libonnxruntime_providers_cuda.so') });
    assert.deepEqual(withCuda.order, ['cuda', 'cpu']);
    assert.match(withCuda.statuses.find((s) => s.name === 'cuda')?.why ?? '', /used \(chosen automatically\)/);
    assert.match(withCuda.statuses.find((s) => s.name === 'cpu')?.why ?? '', /fallback/);

    assert.deepEqual(planOrtProviders({ supported: WINDOWS, bindingDir: BIN, platform: 'win32', fileExists: () => false }).order, ['dml', 'cpu']);
    assert.deepEqual(planOrtProviders({ supported: MACOS, bindingDir: BIN, platform: 'darwin' }).order, ['coreml', 'cpu']);
    // WebGPU is in the list on every platform but never picked by auto.
    for (const [supported, platform] of [[LINUX, 'linux'], [WINDOWS, 'win32'], [MACOS, 'darwin']] as const) {
      const plan = planOrtProviders({ supported: [...supported], bindingDir: BIN, platform, fileExists: () => true });
      assert.ok(!plan.order.includes('webgpu'), platform);
      assert.match(plan.statuses.find((s) => s.name === 'webgpu')?.why ?? '', /not used/);
    }
    // An onnxruntime-node without the platform's provider says so.
    const old = planOrtProviders({ supported: [{ name: 'cpu', bundled: true }], bindingDir: BIN, platform: 'darwin' });
    assert.deepEqual(old.order, ['cpu']);
    assert.match(old.statuses.find((s) => s.name === 'coreml')?.why ?? '', /not in the installed onnxruntime-node's list/);
  });

  test('the preference overrides auto; one that cannot be honoured falls back to the CPU with a warning', () => {
    const cpu = planOrtProviders({ supported: MACOS, bindingDir: BIN, platform: 'darwin', preference: 'cpu' });
    assert.deepEqual(cpu.order, ['cpu']);
    assert.match(cpu.statuses.find((s) => s.name === 'coreml')?.why ?? '', /not used \(CXR_ORT_PROVIDER=cpu\)/);

    const dmlOnLinux = planOrtProviders({ supported: LINUX, bindingDir: BIN, platform: 'linux', preference: 'dml', fileExists: () => true });
    assert.deepEqual(dmlOnLinux.order, ['cpu']);
    assert.match(dmlOnLinux.warning ?? '', /^CXR_ORT_PROVIDER=dml asked for DirectML, but the installed onnxruntime-node has no DirectML provider on linux; using the CPU$/);

    const cudaMissing = planOrtProviders({ supported: LINUX, bindingDir: BIN, platform: 'linux', preference: 'cuda', fileExists: () => false });
    assert.deepEqual(cudaMissing.order, ['cpu']);
    assert.match(cudaMissing.warning ?? '', /asked for CUDA \(NVIDIA\), but libonnxruntime_providers_cuda\.so is not installed/);

    assert.equal(parseOrtProviderPreference(' CUDA '), 'cuda');
    assert.equal(parseOrtProviderPreference(undefined), 'auto');
    assert.throws(() => parseOrtProviderPreference('tpu'), /CXR_ORT_PROVIDER=tpu is not an ONNX Runtime execution provider: use one of auto, cpu, cuda, dml, coreml/);
  });

  test('a GPU provider that fails to start falls back to a CPU session (real onnxruntime-node, no CUDA here)', async () => {
    await tf.setBackend('cpu');
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const input = tfl.input({ shape: [4, 4, 3] });
    const output = tfl.layers.conv2d({ filters: 2, kernelSize: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' }).apply(input) as tfl.SymbolicTensor;
    const conversion = await layersToOnnx(tfl.model({ inputs: input, outputs: output }), null);

    // This machine's onnxruntime-node lists CUDA but has no CUDA provider library: pretend the file is there, as a
    // user's broken CUDA install would look, so the session really tries CUDA first.
    const plan = planOrtProviders({ supported: ort.listSupportedBackends(), bindingDir: ortBindingDir() ?? '', platform: 'linux', fileExists: () => true });
    assert.deepEqual(plan.order, ['cuda', 'cpu']);
    const tried: string[][] = [];
    const made = await createWithProviderFallback(plan, (executionProviders) => {
      tried.push(executionProviders);
      return ort.InferenceSession.create(conversion.bytes, { executionProviders });
    });
    assert.deepEqual(tried, [['cuda', 'cpu'], ['cpu']]);
    assert.equal(made.provider, 'cpu');
    assert.equal(made.warnings.length, 1);
    assert.match(made.warnings[0], /^ONNX Runtime CUDA \(NVIDIA\) provider failed to start \(.+\); using the CPU$/);
    const out = await made.session.run({ [conversion.inputName]: new ort.Tensor('float32', new Float32Array(48).fill(0.5), [1, 4, 4, 3]) });
    assert.deepEqual(Array.from(out[conversion.outputNames[0]].data as Float32Array).slice(0, 4), [1.5, 1.5, 1.5, 1.5]);
    await made.session.release();
  });

  test('the report (cxr doctor, backend status) lists every provider of the installed onnxruntime-node', () => {
    const report = onnxRuntimeReport('auto');
    assert.equal(report.available, true, report.why);
    assert.deepEqual(report.order, process.platform === 'linux' ? ['cpu'] : report.order);
    const names = report.providers.map((p) => p.name);
    for (const n of ['cpu', 'cuda', 'webgpu']) assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    for (const p of report.providers) assert.match(p.why, /: .+; /);
    assert.equal(onnxRuntimeReport('cuda').warnings.length, 1);
  });
});

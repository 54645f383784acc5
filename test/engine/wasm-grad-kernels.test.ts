import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; tfjs-layers registers them all (as in the engine).
import '@tensorflow/tfjs-layers';
import { initBackend } from '../../server/src/engine/backend/select';
import { HostTensor, runCpuKernel } from '../../server/src/engine/backend/cpuKernel';
import { isWasmGradKernel, WASM_GRAD_KERNELS } from '../../server/src/engine/backend/wasmKernels/register';
import { isCxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';

// These tests are about the wasm kernels whatever the surrounding environment asks for.
delete process.env.CXR_BACKEND;

/** float32 sums of a few hundred terms: errors stay near 1e-7 of the largest value; a wrong tap is O(1). */
const REL_TOL = 2e-5;

const rng = new Rng(20240611);

function normal(): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Post-ReLU-like activations (about half zeros, the rest up to a few units), as conv inputs see them. */
function activations(shape: number[]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = Math.max(0, 2 * normal());
  return { values, shape };
}

function gaussian(shape: number[], std: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = std * normal();
  return { values, shape };
}

function assertClose(got: Float32Array | Int32Array | Uint8Array, want: HostTensor, label: string): number {
  assert.equal(got.length, want.values.length, `${label}: size`);
  let maxAbs = 0;
  let maxErr = 0;
  for (let i = 0; i < want.values.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want.values[i]));
    maxErr = Math.max(maxErr, Math.abs(got[i] - want.values[i]));
  }
  assert.ok(maxAbs > 0, `${label}: reference is all zeros, the case tests nothing`);
  assert.ok(maxErr <= REL_TOL * maxAbs, `${label}: max error ${maxErr} against values up to ${maxAbs}`);
  return maxErr / maxAbs;
}

function wasmDataIds(): number {
  return tf.engine().backend.numDataIds();
}

/** Runs `kernelName` through the engine on the active (wasm) backend and returns its values. */
function runOnWasm(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): { values: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const tensors: tf.NamedTensorMap = {};
    for (const [name, t] of Object.entries(inputs)) tensors[name] = tf.tensor(t.values, t.shape);
    const out = tf.engine().runKernel(kernelName, tensors, attrs) as tf.Tensor;
    return { values: out.dataSync() as Float32Array, shape: out.shape };
  });
}

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface Case {
  k: number;
  stride: number;
  pad: Pad;
  /** Input height; width is height + 3 so one of them is odd and the other even. */
  h: number;
}

const CASES: Case[] = [];
for (const k of [1, 3]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      for (const h of [8, 9]) CASES.push({ k, stride, pad, h });
    }
  }
}
CASES.push({ k: 3, stride: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]], h: 7 });

const BATCH = 2;
const name = (c: Case) => `${c.k}x${c.k} stride ${c.stride} pad ${JSON.stringify(c.pad)} input ${c.h}x${c.h + 3}`;

describe('wasm gradient kernels', () => {
  let worst = 0;

  before(async () => {
    const report = await initBackend({ prefer: 'wasm' });
    assert.equal(report.name, 'wasm');
    assert.deepEqual([...report.customKernels].sort(), [...WASM_GRAD_KERNELS].sort());
  });

  test('the composites are the registered wasm kernels and wasm is active', () => {
    assert.equal(tf.getBackend(), 'wasm');
    for (const kernelName of WASM_GRAD_KERNELS) {
      assert.ok(isWasmGradKernel(kernelName), `${kernelName} is not our wasm kernel`);
      assert.equal(tf.getKernel(kernelName, 'wasm').backendName, 'wasm');
    }
  });

  for (const c of CASES) {
    test(`Conv2DBackpropFilter / Conv2DBackpropInput match cpu: ${name(c)}`, () => {
      assert.equal(tf.getBackend(), 'wasm');
      const [ci, co] = [5, 6];
      const xShape: [number, number, number, number] = [BATCH, c.h, c.h + 3, ci];
      const filterShape: [number, number, number, number] = [c.k, c.k, ci, co];
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad);
      const x = activations(xShape);
      const dy = gaussian([BATCH, info.outHeight, info.outWidth, co], 0.05);
      const filter = gaussian(filterShape, Math.sqrt(2 / (c.k * c.k * ci)));
      const common = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC' } as tf.NamedAttrMap;
      const ids = wasmDataIds();

      const fAttrs = { ...common, filterShape };
      const dW = runOnWasm(tf.Conv2DBackpropFilter, { x, dy }, fAttrs);
      assert.deepEqual(dW.shape, filterShape);
      worst = Math.max(worst, assertClose(dW.values, runCpuKernel(tf.Conv2DBackpropFilter, { x, dy }, fAttrs), 'dW'));

      const iAttrs = { ...common, inputShape: xShape };
      const dx = runOnWasm(tf.Conv2DBackpropInput, { dy, filter }, iAttrs);
      assert.deepEqual(dx.shape, xShape);
      worst = Math.max(worst, assertClose(dx.values, runCpuKernel(tf.Conv2DBackpropInput, { dy, filter }, iAttrs), 'dx'));
      assert.equal(wasmDataIds(), ids, 'the kernels leaked wasm buffers');
    });

    const multiplier = c.k === 3 && c.pad === 'same' ? 2 : 1;
    test(`DepthwiseConv2dNativeBackpropFilter / BackpropInput match cpu: ${name(c)}, multiplier ${multiplier}`, () => {
      assert.equal(tf.getBackend(), 'wasm');
      const channels = 6;
      const xShape: [number, number, number, number] = [BATCH, c.h, c.h + 3, channels];
      const filterShape: [number, number, number, number] = [c.k, c.k, channels, multiplier];
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad, undefined, true);
      const x = activations(xShape);
      const dy = gaussian([BATCH, info.outHeight, info.outWidth, channels * multiplier], 0.05);
      const filter = gaussian(filterShape, Math.sqrt(2 / (c.k * c.k)));
      const common = { strides: c.stride, pad: c.pad, dilations: 1 } as tf.NamedAttrMap;
      const ids = wasmDataIds();

      const fAttrs = { ...common, filterShape };
      const dW = runOnWasm(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, fAttrs);
      assert.deepEqual(dW.shape, filterShape);
      worst = Math.max(worst, assertClose(dW.values, runCpuKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, fAttrs), 'dW'));

      const iAttrs = { ...common, inputShape: xShape };
      const dx = runOnWasm(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, iAttrs);
      assert.deepEqual(dx.shape, xShape);
      worst = Math.max(worst, assertClose(dx.values, runCpuKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, iAttrs), 'dx'));
      assert.equal(wasmDataIds(), ids, 'the kernels leaked wasm buffers');
    });
  }

  // Through tf.grads: the gradient of sum(conv(x, w) * r) is (backpropInput(r), backpropFilter(x, r)).
  const GRAD_CASES: Array<Case & { depthwise: boolean }> = [
    { k: 3, stride: 1, pad: 'same', h: 9, depthwise: false },
    { k: 3, stride: 2, pad: 'same', h: 8, depthwise: false },
    { k: 1, stride: 2, pad: 'valid', h: 9, depthwise: false },
    { k: 3, stride: 1, pad: 'same', h: 8, depthwise: true },
    { k: 3, stride: 2, pad: 'valid', h: 9, depthwise: true },
    { k: 1, stride: 1, pad: 'valid', h: 9, depthwise: true },
  ];
  for (const c of GRAD_CASES) {
    test(`tf.grads of ${c.depthwise ? 'depthwiseConv2d' : 'conv2d'} on wasm match the cpu kernels: ${name(c)}`, () => {
      assert.equal(tf.getBackend(), 'wasm');
      const ci = 4;
      const co = c.depthwise ? ci : 7;
      const xShape: [number, number, number, number] = [3, c.h, c.h + 3, ci];
      const filterShape: [number, number, number, number] = [c.k, c.k, ci, c.depthwise ? 1 : co];
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad, undefined, c.depthwise);
      const x = activations(xShape);
      const filter = gaussian(filterShape, 0.3);
      const r = gaussian([3, info.outHeight, info.outWidth, co], 0.05);
      const pad = c.pad as 'same' | 'valid';
      const [gx, gw] = tf.tidy(() => {
        const rt = tf.tensor4d(r.values, r.shape as [number, number, number, number]);
        const f = (xt: tf.Tensor, wt: tf.Tensor) => {
          const y = c.depthwise
            ? tf.depthwiseConv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.stride, pad)
            : tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.stride, pad);
          return tf.sum(tf.mul(y, rt));
        };
        const grads = tf.grads(f)([tf.tensor(x.values, xShape), tf.tensor(filter.values, filterShape)]);
        return grads.map((g) => g.dataSync() as Float32Array);
      });
      const names = c.depthwise
        ? { input: tf.DepthwiseConv2dNativeBackpropInput, filter: tf.DepthwiseConv2dNativeBackpropFilter }
        : { input: tf.Conv2DBackpropInput, filter: tf.Conv2DBackpropFilter };
      const attrs = { strides: c.stride, pad: c.pad, dilations: 1, dataFormat: 'NHWC' } as tf.NamedAttrMap;
      const wantX = runCpuKernel(names.input, { dy: r, filter }, { ...attrs, inputShape: xShape });
      const wantW = runCpuKernel(names.filter, { x, dy: r }, { ...attrs, filterShape });
      worst = Math.max(worst, assertClose(gx, wantX, 'dL/dx'), assertClose(gw, wantW, 'dL/dw'));
    });
  }

  test('unsupported configurations fail with a clear message', () => {
    const x = activations([1, 5, 5, 2]);
    const dy = gaussian([1, 5, 5, 2], 1);
    assert.throws(
      () => runOnWasm(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dilations: 2, filterShape: [3, 3, 2, 1] }),
      (e: unknown) => isCxrError(e) && /dilations \[2, 2\]/.test(e.message) && /CXR_BACKEND=cpu/.test(e.message),
    );
    assert.throws(
      () => runOnWasm(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 5, 2] }),
      (e: unknown) => isCxrError(e) && /NCHW/.test(e.message),
    );
  });

  test('report the worst relative error seen', () => {
    assert.ok(worst > 0 && worst <= REL_TOL);
    console.log(`worst max-error / max-|value| over all cases: ${worst.toExponential(2)}`);
  });
});

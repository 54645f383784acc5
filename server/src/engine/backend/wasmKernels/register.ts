import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterWasm } from './conv2dBackpropFilter';
import { makeConv2dBackpropInputWasm } from './conv2dBackpropInput';
import { depthwiseBackpropFilterWasm } from './depthwiseBackpropFilter';
import { depthwiseBackpropInputWasm } from './depthwiseBackpropInput';

/** Kernels this module puts on the wasm backend, in registration order. */
export const WASM_GRAD_KERNELS = [
  tf.Conv2DBackpropFilter,
  tf.Conv2DBackpropInput,
  tf.DepthwiseConv2dNativeBackpropFilter,
  tf.DepthwiseConv2dNativeBackpropInput,
] as const;

/** Marks our kernel functions so a second registration (or another copy of this module) is recognised. */
const MARK = Symbol.for('cxr.wasmGradKernel');

/** Whether the wasm kernel registered under this name is one of ours (not tfjs's own, not missing). */
export function isWasmGradKernel(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, 'wasm') as (tf.KernelConfig & { [MARK]?: true }) | undefined;
  return k != null && k[MARK] === true;
}

function put(kernelName: string, kernelFunc: tf.KernelFunc, setupFunc?: tf.KernelSetupFunc): void {
  const config: tf.KernelConfig & { [MARK]?: true } = { kernelName, backendName: 'wasm', kernelFunc, setupFunc };
  config[MARK] = true;
  tf.registerKernel(config);
}

/**
 * Registers the composite gradient kernels for the wasm backend (idempotent) and returns their names.
 * A kernel wasm already has (its own Conv2DBackpropInput) is replaced, but its setupFunc stays on the replacement:
 * setupFuncs bind the wasm exports when the backend initialises, and the composite falls back to the original
 * for what it does not handle (NCHW).
 */
export function registerWasmGradKernels(): string[] {
  for (const name of WASM_GRAD_KERNELS) {
    if (isWasmGradKernel(name)) continue;
    const original = tf.getKernel(name, 'wasm') ?? null;
    if (original != null) tf.unregisterKernel(name, 'wasm');
    if (name === tf.Conv2DBackpropInput) originalBackpropInput = original?.kernelFunc ?? null;
    put(name, compositeFor(name, original?.kernelFunc ?? null), original?.setupFunc);
  }
  return [...WASM_GRAD_KERNELS];
}

function compositeFor(name: (typeof WASM_GRAD_KERNELS)[number], original: tf.KernelFunc | null): tf.KernelFunc {
  switch (name) {
    case tf.Conv2DBackpropFilter:
      return conv2dBackpropFilterWasm as tf.KernelFunc;
    case tf.Conv2DBackpropInput:
      return makeConv2dBackpropInputWasm(original);
    case tf.DepthwiseConv2dNativeBackpropFilter:
      return depthwiseBackpropFilterWasm as tf.KernelFunc;
    case tf.DepthwiseConv2dNativeBackpropInput:
      return depthwiseBackpropInputWasm as tf.KernelFunc;
  }
}

let originalBackpropInput: tf.KernelFunc | null = null;

/** wasm's own Conv2DBackpropInput, kept so benchmarks can compare against it; null before registration. */
export function originalWasmConv2dBackpropInput(): tf.KernelFunc | null {
  return originalBackpropInput;
}

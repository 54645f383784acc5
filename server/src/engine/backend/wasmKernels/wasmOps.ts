import * as tf from '@tensorflow/tfjs-core';

import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Runs registered wasm kernels directly on TensorInfos, without the engine: no tape, no tensor tracking.
 * Every output is a temporary owned by this object until `keep`; `disposeAll` frees the rest. Wasm data is
 * reference counted (reshape shares its input's buffer), so freeing a temporary a kept result aliases is safe.
 */
export class WasmOps {
  private readonly temps = new Set<tf.TensorInfo>();

  private readonly backend: BackendWasm;

  constructor(backend: unknown) {
    this.backend = backend as BackendWasm;
  }

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (kernel == null) throw new Error(`wasm kernel ${kernelName} is not registered`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`wasm kernel ${kernelName} returned several outputs`);
    this.temps.add(out);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Zero padding; `paddings[i]` is [before, after] for axis i. */
  pad(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return this.reshape(x, x.shape);
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Pads where paddings[i] are positive and crops where they are negative. */
  padOrCrop(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    if (paddings.every(([a, b]) => a >= 0 && b >= 0)) return this.pad(x, paddings);
    const begin = paddings.map(([a]) => Math.max(0, -a));
    const size = x.shape.map((d, i) => d - begin[i] - Math.max(0, -paddings[i][1]));
    const cropped = this.slice(x, begin, size);
    const padded = this.pad(cropped, paddings.map(([a, b]) => [Math.max(0, a), Math.max(0, b)] as [number, number]));
    this.free(cropped);
    return padded;
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    // transposeA/transposeB take wasm's slow loop (about 0.4 and 1.9 GFLOP/s against 24): transpose explicitly instead.
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  /** A new uninitialised float32 tensor on the wasm heap. */
  allocate(shape: number[]): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.temps.add(out);
    return out;
  }

  /**
   * A Float32Array view of a tensor's wasm memory. Views go stale when the heap grows (any allocation may grow
   * it), so take them after the last `allocate`/`run` and do not keep them.
   */
  view(x: tf.TensorInfo): Float32Array {
    if (x.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${x.dtype}`);
    return this.backend.typedArrayFromHeap(x) as Float32Array;
  }

  /** Frees a temporary now (keeps peak wasm memory down inside loops). */
  free(x: tf.TensorInfo): void {
    if (this.temps.delete(x)) this.backend.disposeData(x.dataId);
  }

  /** Hands `x` to the caller: it is no longer freed by `disposeAll`. */
  keep(x: tf.TensorInfo): tf.TensorInfo {
    this.temps.delete(x);
    return x;
  }

  disposeAll(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.clear();
  }
}

/** Runs `f` with a fresh WasmOps and frees every temporary except the returned result. */
export function composeWasm(backend: unknown, f: (ops: WasmOps) => tf.TensorInfo): tf.TensorInfo {
  const ops = new WasmOps(backend);
  try {
    return ops.keep(f(ops));
  } finally {
    ops.disposeAll();
  }
}

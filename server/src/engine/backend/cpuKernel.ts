import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export interface HostTensor {
  values: Float32Array;
  shape: number[];
}

/**
 * Runs one kernel of the pure-JS cpu backend on host arrays, whatever backend is active: the reference that the
 * wasm composite kernels are checked against, and the "delegate to cpu" baseline they are benchmarked against.
 */
export function runCpuKernel(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): HostTensor {
  const backend = tf.findBackend('cpu');
  const kernel = tf.getKernel(kernelName, 'cpu');
  if (backend == null || kernel == null) throw new Error(`cpu backend or its ${kernelName} kernel is not available`);
  const infos: tf.NamedTensorInfoMap = {};
  const written: tf.TensorInfo[] = [];
  for (const [name, t] of Object.entries(inputs)) {
    const info: tf.TensorInfo = { dataId: backend.write(t.values, t.shape, 'float32'), shape: t.shape, dtype: 'float32' };
    infos[name] = info;
    written.push(info);
  }
  try {
    const out = kernel.kernelFunc({ inputs: infos, backend, attrs });
    const info = Array.isArray(out) ? out[0] : out;
    const values = backend.readSync(info.dataId) as Float32Array;
    backend.disposeData(info.dataId);
    return { values: Float32Array.from(values), shape: info.shape };
  } finally {
    for (const info of written) backend.disposeData(info.dataId);
  }
}

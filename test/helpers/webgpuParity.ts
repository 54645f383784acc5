import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../server/src/engine/backend/select';
import { weightsHash } from '../../server/src/engine/cache/featureCache';
import { createCam } from '../../server/src/engine/explain/cam';
import type { BackendReport } from '../../server/src/engine/api';

/**
 * Runs in a child process (fresh tfjs state): the same small convolutional network (the layer kinds MobileNetV2
 * uses: Conv2D, DepthwiseConv2D, BatchNormalization, ReLU6, Add, global pooling, Dense softmax) with the same
 * seeded weights and inputs, forward and gradients on wasm, then on webgpu; then a few SGD steps on each.
 * Everything is read back to the host before switching: a model is never moved from webgpu back to wasm.
 */
export interface ParityResult {
  webgpu: BackendReport;
  forward: { wasm: number[]; webgpu: number[] };
  gradients: { name: string; wasm: number[]; webgpu: number[] }[];
  losses: { wasm: number[]; webgpu: number[] };
  /** Grad-CAM of the first image (the engine's CamMethod), read back from each backend. */
  gradCam: { wasm: number[]; webgpu: number[] };
  /** The feature cache's weights hash of the model before it ran (weights still on the host) and after (on the device). */
  weightsHash: { wasm: [string, string]; webgpu: [string, string] };
}

const SIZE = 16;
const BATCH = 4;
const CLASSES = 3;
const STEPS = 5;

function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [SIZE, SIZE, 3] });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ betaInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 2 }), gammaInitializer: tfl.initializers.randomUniform({ minval: 0.8, maxval: 1.2, seed: 3 }) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
  const y = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }).apply(x) as tfl.SymbolicTensor;
  let z = tfl.layers.add().apply([x, y]) as tfl.SymbolicTensor;
  z = tfl.layers.conv2d({ filters: 16, kernelSize: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }).apply(z) as tfl.SymbolicTensor;
  z = tfl.layers.globalAveragePooling2d({}).apply(z) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }) }).apply(z) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

function data(): { x: Float32Array; y: Float32Array } {
  let s = 12345;
  const rand = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const x = new Float32Array(BATCH * SIZE * SIZE * 3).map(() => rand());
  const y = new Float32Array(BATCH * CLASSES);
  for (let i = 0; i < BATCH; i++) y[i * CLASSES + (i % CLASSES)] = 1;
  return { x, y };
}

async function runOn(
  weights: Float32Array[] | null,
): Promise<{ weights: Float32Array[]; forward: number[]; gradients: { name: string; values: number[] }[]; losses: number[]; gradCam: number[]; weightsHash: [string, string] }> {
  const model = buildModel();
  if (weights) model.setWeights(weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[])));
  const initial = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  const hashBefore = await weightsHash(model);
  const { x: xs, y: ys } = data();
  const x = tf.tensor4d(xs, [BATCH, SIZE, SIZE, 3]);
  const y = tf.tensor2d(ys, [BATCH, CLASSES]);
  const forward = Array.from(await (model.predict(x) as tf.Tensor).data());
  // The weights now live on the backend's device: read back there, as the feature cache and the CAM methods do.
  const hashAfter = await weightsHash(model);
  const cam = createCam('gradcam', model, model.layers[model.layers.length - 3].name); // the last conv, before pooling
  const gradCam = Array.from((await cam.compute(x))[0].map);
  cam.dispose();
  const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar;
  const { grads } = tf.variableGrads(loss);
  const gradients = await Promise.all(Object.entries(grads).map(async ([name, g]) => ({ name: name.replace(/_\d+\//, '/'), values: Array.from(await g.data()) })));
  const optimizer = tf.train.sgd(0.5);
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const l = optimizer.minimize(loss, true) as tf.Scalar;
    losses.push((await l.data())[0]);
  }
  return { weights: initial, forward, gradients, losses, gradCam, weightsHash: [hashBefore, hashAfter] };
}

export async function webgpuParity(): Promise<ParityResult> {
  const wasm = await initBackend({ prefer: 'wasm' });
  if (wasm.name !== 'wasm') throw new Error(`wasm did not start: ${wasm.reason}`);
  const onWasm = await runOn(null);
  const webgpu = await initBackend({ prefer: 'webgpu' });
  if (webgpu.name !== 'webgpu') throw new Error(`webgpu did not start: ${webgpu.warnings.join('; ') || webgpu.reason}`);
  const onGpu = await runOn(onWasm.weights);
  return {
    webgpu,
    forward: { wasm: onWasm.forward, webgpu: onGpu.forward },
    gradients: onWasm.gradients.map((g, i) => ({ name: g.name, wasm: g.values, webgpu: onGpu.gradients[i].values })),
    losses: { wasm: onWasm.losses, webgpu: onGpu.losses },
    gradCam: { wasm: onWasm.gradCam, webgpu: onGpu.gradCam },
    weightsHash: { wasm: onWasm.weightsHash, webgpu: onGpu.weightsHash },
  };
}

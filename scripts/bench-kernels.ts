/**
 * Benchmark (not a test) of the wasm gradient kernels on MobileNetV2- and VGG16-like shapes: the composite
 * kernels registered by initBackend, against delegating the same kernel to the pure-JS cpu backend, and (for
 * Conv2DBackpropInput) against wasm's own kernel.
 *
 *   node --import tsx scripts/bench-kernels.ts [--batch 2] [--reps 3] [--cpu-max-gmac 2] [--only depthwise]
 *
 * The cpu baseline is skipped for shapes above --cpu-max-gmac (it runs at well under 1 GMAC/s).
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../server/src/engine/backend/select';
import { HostTensor, runCpuKernel } from '../server/src/engine/backend/cpuKernel';
import { originalWasmConv2dBackpropInput } from '../server/src/engine/backend/wasmKernels/register';
import { Rng } from '../server/src/engine/util/rng';
import { relativeError } from '../test/helpers/weightAsserts';

interface Case {
  model: 'mobilenet_v2' | 'vgg16';
  label: string;
  kernel: string;
  h: number;
  w: number;
  c: number;
  /** Output channels (regular conv) or channel multiplier (depthwise). */
  out: number;
  k: number;
  stride: number;
}

const CASES: Case[] = [
  { model: 'mobilenet_v2', label: 'first conv 3x3/2 224x224x3->32', kernel: 'conv', h: 224, w: 224, c: 3, out: 32, k: 3, stride: 2 },
  { model: 'mobilenet_v2', label: 'expand 1x1 56x56x24->144', kernel: 'conv', h: 56, w: 56, c: 24, out: 144, k: 1, stride: 1 },
  { model: 'mobilenet_v2', label: 'project 1x1 14x14x384->64', kernel: 'conv', h: 14, w: 14, c: 384, out: 64, k: 1, stride: 1 },
  { model: 'mobilenet_v2', label: 'last 1x1 7x7x320->1280', kernel: 'conv', h: 7, w: 7, c: 320, out: 1280, k: 1, stride: 1 },
  { model: 'mobilenet_v2', label: 'dw 3x3/2 112x112x96', kernel: 'depthwise', h: 112, w: 112, c: 96, out: 1, k: 3, stride: 2 },
  { model: 'mobilenet_v2', label: 'dw 3x3/1 56x56x144', kernel: 'depthwise', h: 56, w: 56, c: 144, out: 1, k: 3, stride: 1 },
  { model: 'mobilenet_v2', label: 'dw 3x3/1 14x14x576', kernel: 'depthwise', h: 14, w: 14, c: 576, out: 1, k: 3, stride: 1 },
  { model: 'mobilenet_v2', label: 'dw 3x3/1 7x7x960', kernel: 'depthwise', h: 7, w: 7, c: 960, out: 1, k: 3, stride: 1 },
  { model: 'vgg16', label: 'block1 3x3 224x224x64->64', kernel: 'conv', h: 224, w: 224, c: 64, out: 64, k: 3, stride: 1 },
  { model: 'vgg16', label: 'block3 3x3 56x56x256->256', kernel: 'conv', h: 56, w: 56, c: 256, out: 256, k: 3, stride: 1 },
  { model: 'vgg16', label: 'block5 3x3 14x14x512->512', kernel: 'conv', h: 14, w: 14, c: 512, out: 512, k: 3, stride: 1 },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const rng = new Rng(7);
function random(shape: number[], scale: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.uniform(-scale, scale);
  return { values, shape };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeWasm(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap, reps: number, func?: tf.KernelFunc): { ms: number; out: Float32Array } {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = tf.tensor(v.values, v.shape);
  const times: number[] = [];
  let out: Float32Array = new Float32Array(0);
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    let result: tf.Tensor;
    if (func == null) {
      result = tf.engine().runKernel(kernelName, tensors as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
    } else {
      const backend = tf.backend();
      const infos: tf.NamedTensorInfoMap = {};
      for (const [k, t] of Object.entries(tensors)) infos[k] = { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
      const info = func({ inputs: infos, backend, attrs }) as tf.TensorInfo;
      result = tf.engine().makeTensorFromTensorInfo(info);
    }
    out = result.dataSync() as Float32Array;
    times.push(performance.now() - t0);
    result.dispose();
  }
  Object.values(tensors).forEach((t) => t.dispose());
  return { ms: median(times), out };
}


async function main(): Promise<void> {
  const batch = Number(arg('batch', '2'));
  const reps = Number(arg('reps', '3'));
  const cpuMaxGmac = Number(arg('cpu-max-gmac', '2'));
  const only = arg('only', '');
  const report = await initBackend({ prefer: 'wasm' });
  if (tf.getBackend() !== 'wasm') throw new Error(`wasm backend not active (got ${tf.getBackend()})`);
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores (wasm uses one), ${os.platform()} ${os.arch()}, node ${process.versions.node}`);
  console.log(`backend: ${report.name} (${report.reason})`);
  console.log(`batch ${batch}, median of ${reps} runs; cpu = the tfjs-backend-cpu kernel on the same data; err = max |composite - cpu| / max |cpu|\n`);
  const header = ['model', 'layer', 'kernel', 'GMAC', 'composite ms', 'wasm own ms', 'cpu ms', 'vs cpu', 'vs wasm own', 'err'];
  const rows: string[][] = [header];
  const original = originalWasmConv2dBackpropInput();

  for (const c of CASES) {
    if (only !== '' && !`${c.model} ${c.label} ${c.kernel}`.includes(only)) continue;
    const depthwise = c.kernel === 'depthwise';
    const xShape: [number, number, number, number] = [batch, c.h, c.w, c.c];
    const filterShape: [number, number, number, number] = [c.k, c.k, c.c, c.out];
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, 'same', undefined, depthwise);
    const x = random(xShape, 2);
    const dy = random([batch, info.outHeight, info.outWidth, info.outChannels], 1);
    const filter = random(filterShape, 0.3);
    const gmac = (batch * info.outHeight * info.outWidth * info.outChannels * c.k * c.k * (depthwise ? 1 : c.c)) / 1e9;
    const names = depthwise
      ? { filter: tf.DepthwiseConv2dNativeBackpropFilter, input: tf.DepthwiseConv2dNativeBackpropInput }
      : { filter: tf.Conv2DBackpropFilter, input: tf.Conv2DBackpropInput };
    const common: tf.NamedAttrMap = depthwise ? { strides: c.stride, pad: 'same', dilations: 1 } : { strides: c.stride, pad: 'same', dataFormat: 'NHWC' };
    const jobs: Array<{ name: string; inputs: Record<string, HostTensor>; attrs: tf.NamedAttrMap }> = [
      { name: names.filter, inputs: { x, dy }, attrs: { ...common, filterShape } },
    ];
    if (c.c > 3) jobs.push({ name: names.input, inputs: { dy, filter }, attrs: { ...common, inputShape: xShape } });
    for (const job of jobs) {
      const composite = timeWasm(job.name, job.inputs, job.attrs, reps);
      const own = job.name === tf.Conv2DBackpropInput && original != null ? timeWasm(job.name, job.inputs, job.attrs, reps, original) : null;
      let cpuMs: number | null = null;
      let err: number | null = null;
      if (gmac <= cpuMaxGmac) {
        const t0 = performance.now();
        const ref = runCpuKernel(job.name, job.inputs, job.attrs);
        cpuMs = performance.now() - t0;
        err = relativeError(composite.out, ref.values);
      } else if (own != null) {
        err = relativeError(composite.out, own.out);
      }
      rows.push([
        c.model, c.label, job.name.replace('DepthwiseConv2dNative', 'Depthwise'), gmac.toFixed(3),
        composite.ms.toFixed(1), own == null ? '-' : own.ms.toFixed(1), cpuMs == null ? 'skipped' : cpuMs.toFixed(0),
        cpuMs == null ? '-' : `${(cpuMs / composite.ms).toFixed(0)}x`, own == null ? '-' : `${(own.ms / composite.ms).toFixed(1)}x`,
        err == null ? '-' : err.toExponential(1) + (cpuMs == null && own != null ? ' (vs own)' : ''),
      ]);
      console.log(rows[rows.length - 1].join(' | '));
    }
  }
  console.log('\n' + toMarkdown(rows));
}

function toMarkdown(rows: string[][]): string {
  const lines = rows.map((r) => `| ${r.join(' | ')} |`);
  lines.splice(1, 0, `|${rows[0].map(() => '---').join('|')}|`);
  return lines.join('\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

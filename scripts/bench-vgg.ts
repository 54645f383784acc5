/**
 * The method's VGG16 recipe (blocks 4-5 and the head train, augmentation) on random weights at 224 px: where one
 * training step's time goes, and images/s of one epoch through the real trainer with tfjs steps (the baseline) and
 * with ONNX Runtime steps (the default), both measured in this run. Run by `npm run bench`; alone:
 *   node --import tsx scripts/bench-vgg.ts [--data DIR] [--batch 4]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../server/src/engine/backend/select';
import { randomTransform } from '../server/src/engine/data/augment';
import { loadDataset } from '../server/src/engine/data/dataset';
import { decodeInThread } from '../server/src/engine/data/imageDecoder';
import { tfjsForwardPass } from '../server/src/engine/inference/forwardPass';
import { dataDir } from '../server/src/engine/locations';
import { buildClassifier } from '../server/src/engine/models/classifier';
import { getBackbone, METHOD_AUGMENTATION } from '../server/src/engine/models/registry';
import { splitModelAt } from '../server/src/engine/models/split';
import { ortForwardPass } from '../server/src/engine/inference/forwardPass';
import { ortStatus } from '../server/src/engine/onnx/runtime';
import { createOrtSteps } from '../server/src/engine/train/ortTrainStep';
import { categoricalCrossEntropy, oneHot } from '../server/src/engine/train/tensors';
import { train } from '../server/src/engine/train/trainer';
import { Rng } from '../server/src/engine/util/rng';

/** What Keras reaches with this recipe on this machine kind (issue 6's target). */
const KERAS_IMAGES_PER_SECOND = 1.75;

const { values } = parseArgs({
  options: { data: { type: 'string', default: path.join(dataDir(), 'ci-tiny') }, batch: { type: 'string', default: '4' } },
});
const batch = Number(values.batch);
const log = (s: string): void => void process.stdout.write(s + '\n');
const size = 224;

/** Median milliseconds of `runs` calls after one untimed warm-up call. */
async function time(runs: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await f();
    t.push(performance.now() - start);
  }
  return t.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

async function breakdown(files: string[]): Promise<void> {
  const spec = getBackbone('vgg16');
  const model = buildClassifier(spec, 3, size);
  const cut = splitModelAt(model, spec.defaultFreezeAt);
  const rng = new Rng(1);
  const images: Float32Array[] = [];
  const decodeMs = await time(1, async () => {
    images.length = 0;
    for (const f of files.slice(0, batch)) images.push(await decodeInThread(f, size, randomTransform(METHOD_AUGMENTATION, size, rng)));
  });
  const pixels = new Float32Array(batch * size * size * 3);
  images.forEach((img, k) => pixels.set(img, k * size * size * 3));
  const ortFrozen = (await ortForwardPass(cut.before, spec, size))!;
  const tfjsFrozen = tfjsForwardPass(cut.before, spec, size);
  let features: Float32Array = new Float32Array(0);
  const frozenOrt = await time(2, async () => (features = (await ortFrozen.run(pixels, batch))[0]));
  const frozenTfjs = await time(1, () => tfjsFrozen.run(pixels, batch));
  ortFrozen.dispose();

  const x = tf.tensor(features, [batch, ...(cut.after.inputs[0].shape.slice(1) as number[])]);
  const y = oneHot(Array.from({ length: batch }, (_, i) => i % 3), 3);
  const vars = cut.after.trainableWeights.map((v) => v.read() as tf.Variable);
  const optimizer: tf.Optimizer = tf.train.momentum(3e-3, 0.9);
  const forward = () => {
    const p = cut.after.apply(x, { training: true }) as tf.Tensor;
    return p.data().then(() => p.dispose());
  };
  let grads: tf.NamedTensorMap = {};
  const gradients = async () => {
    tf.dispose(Object.values(grads));
    const r = tf.variableGrads(() => categoricalCrossEntropy(y, cut.after.apply(x, { training: true }) as tf.Tensor), vars);
    await Promise.all(Object.values(r.grads).map((g) => g.data()));
    r.value.dispose();
    grads = r.grads;
  };
  const tfjsForward = await time(1, forward);
  const tfjsStep = await time(1, gradients);
  const optimizerMs = await time(2, async () => {
    optimizer.applyGradients(grads);
    await vars[0].data();
  });
  tf.dispose(Object.values(grads));
  const steps = await createOrtSteps(cut.after);
  if ('reason' in steps) throw new Error(steps.reason);
  const ortForward = await time(2, () => steps.evaluate(x, y));
  const ortStep = await time(2, () => steps.step(x, y, optimizer));
  await steps.dispose();
  const per = (ms: number) => `${(ms / batch).toFixed(0)} ms/img`;
  log(`VGG16 one step, batch ${batch} at ${size} px (random weights; medians after a warm-up call), per image:`);
  log(`  decode + augmentation (this thread) ${per(decodeMs)}; frozen blocks 1-3: onnxruntime ${per(frozenOrt)}, tfjs ${per(frozenTfjs)}`);
  log(`  blocks 4-5 + head on tfjs: forward ${per(tfjsForward)}, forward + gradients ${per(tfjsStep)}; momentum update ${optimizerMs.toFixed(0)} ms per step`);
  log(`  blocks 4-5 + head on onnxruntime: forward ${per(ortForward)}, whole step (weights in, forward + gradients, tfjs momentum update) ${per(ortStep)}; ` +
    `${(tfjsStep / (ortStep - optimizerMs)).toFixed(1)}x on forward + gradients`);
  tf.dispose([x, y]);
  optimizer.dispose();
  cut.after.dispose();
  model.dispose();
}

/** One epoch through the trainer (no validation split); images/s of the epoch's batches. */
async function epochRate(data: string, stepEngine: 'tfjs' | 'auto'): Promise<{ rate: number; seconds: number; n: number }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-bench-vgg-'));
  try {
    const r = await train(
      { data, out: path.join(out, 'run'), backbone: 'vgg16', epochs: 1, batchSize: batch, valFraction: 0, seed: 42 },
      { stepEngine },
    );
    const [epoch] = r.history;
    const n = (await loadDataset(data)).items.filter((i) => i.split !== 'test').length;
    return { rate: n / epoch.seconds, seconds: epoch.seconds, n };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const ort = ortStatus();
  log(`# VGG16 method recipe (blocks 4-5 + head trainable, augmentation) ${new Date().toISOString()}`);
  log(`tfjs ${backend.name}; onnxruntime ${ort.available ? `${ort.version}, ${ort.threads} threads` : `unavailable (${ort.reason})`}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const files = (await loadDataset(values.data!)).items.filter((i) => i.split !== 'test').map((i) => i.path);
  await breakdown(files);
  const base = await epochRate(values.data!, 'tfjs');
  const fast = await epochRate(values.data!, 'auto');
  log(`one epoch of ${fast.n} images (${path.basename(values.data!)}, batch ${batch}, decode + augmentation + frozen blocks 1-3 on onnxruntime + step):`);
  log(`  tfjs steps (before) ${base.seconds.toFixed(1)} s = ${base.rate.toFixed(2)} images/s; onnxruntime steps ${fast.seconds.toFixed(1)} s = ${fast.rate.toFixed(2)} images/s ` +
    `(${(fast.rate / base.rate).toFixed(1)}x; Keras here ${KERAS_IMAGES_PER_SECOND} images/s); load average now ${os.loadavg()[0].toFixed(1)}`);
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});

/**
 * `npm run bench` (not a test): speed and memory of the engine on this machine, every number measured in this run.
 *   - the machine, its load, and which engine runs what;
 *   - matrix-multiply throughput of ONNX Runtime (the machine's reachable arithmetic) and the fraction the frozen
 *     MobileNetV2 pass reaches;
 *   - the reference job as a user runs it (cxr train, evaluate --split test, cam-grid: three processes) with an empty
 *     feature cache, then a second training with another seed on the warm cache;
 *   - a scale curve: training on N images (replicas of the shared training set, hard links in a temp folder outside
 *     the repository), peak RSS and images/s of decoding + frozen pass, cold cache;
 *   - classify + CAM requests through the backend process's JSON-RPC, p50/p95;
 *   - the heatmap viewer in a real VS Code (code-server and Chromium, through test/e2e/heatmapTrust.test.ts):
 *     open-to-overlay for a new panel and a reused one, and class or method switches; needs the packaged .vsix
 *     (`bash scripts/package-vsix.sh`) and code-server (`bash scripts/install-e2e-deps.sh`), and says so when either is missing.
 *
 *   - decoding (and augmentation) images/s in this thread and on the worker pool with 1 and 2 workers;
 *   - the VGG16 recipe's training images/s with tfjs and with onnxruntime steps (scripts/bench-vgg.ts);
 *   npm run bench -- [--sizes 251,2008,20080] [--requests 1000] [--skip-reference] [--skip-decode] [--scale-through engine] [--skip-vgg] [--skip-editor]
 */
import { spawnSync } from 'node:child_process';
import { hugePagesEnv } from '../server/src/launch/hugePages';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as protocol from '../common/src/protocol';
import { loadDataset } from '../server/src/engine/data/dataset';
import { dataDir, repoRoot } from '../server/src/engine/locations';
import { encodeModel } from '../server/src/engine/onnx/onnxModel';
import { loadOrt, OrtModel, ortStatus } from '../server/src/engine/onnx/runtime';
import { randomTransform } from '../server/src/engine/data/augment';
import { DecodePool } from '../server/src/engine/data/decodePool';
import { decodeInThread } from '../server/src/engine/data/imageDecoder';
import { METHOD_AUGMENTATION } from '../server/src/engine/models/registry';
import { mapLimit } from '../server/src/engine/util/concurrency';
import { Rng } from '../server/src/engine/util/rng';
import { codeServerBin, vsixPath } from '../test/e2e/harness';
import { BackendProcess } from '../test/protocol/backendProcess';

/** MobileNetV2 (alpha 1.0, 224) up to out_relu: 299.5 M multiply-adds per image. */
const MNV2_GFLOP_PER_IMAGE = 0.599;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '251,2008' },
    requests: { type: 'string', default: '1000' },
    'skip-reference': { type: 'boolean', default: false },
    'skip-decode': { type: 'boolean', default: false },
    // 'engine': the scale step runs `cxr train` as a user does (dataset audit, trainer, OOD + calibration fit).
    'scale-through': { type: 'string', default: 'trainer' },
    'skip-vgg': { type: 'boolean', default: false },
    'skip-editor': { type: 'boolean', default: false },
  },
});
const log = (s: string): void => void process.stdout.write(s + '\n');
const COVID = path.join(dataDir(), 'covid19-dataset');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-bench-'));

/** A measurement in its own process, started as the CLI and the language server start the engine (huge pages included). */
function child(env: Record<string, string>, ...args: string[]): Record<string, any> {
  const merged = { ...process.env, ...env };
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'scripts', 'bench-child.ts'), ...args], {
    encoding: 'utf8', env: hugePagesEnv(merged) ?? merged, maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`bench child ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function matmulGflops(n: number): Promise<number> {
  const ort = loadOrt();
  if (!ort) return NaN;
  const b = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const bytes = encodeModel({
    name: 'matmul', nodes: [{ op: 'MatMul', inputs: ['image', 'b'], outputs: ['output_0'] }],
    initializers: [{ name: 'b', dims: [n, n], data: b }],
    inputs: [{ name: 'image', shape: [n, n] }], outputs: [{ name: 'output_0', shape: [n, n] }],
  });
  const model = await OrtModel.create(ort, bytes, 'image', ['output_0']);
  const a = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
  await model.run(a, [n, n]);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await model.run(a, [n, n]);
    times.push(performance.now() - t);
  }
  await model.dispose();
  times.sort((x, y) => x - y);
  return (2 * n ** 3) / (times[2] / 1000) / 1e9;
}

/** N training images as hard links to the shared set's, keeping class folders; the shared test split as is. */
async function replicate(n: number): Promise<string> {
  const root = path.join(work, `replica-${n}`);
  const byClass = new Map<string, string[]>();
  for (const i of (await loadDataset(COVID)).items) if (i.split === 'train') byClass.set(i.label, [...(byClass.get(i.label) ?? []), i.path]);
  // Round-robin over the classes, so every size keeps them all.
  const lists = [...byClass.entries()];
  const items = Array.from({ length: Math.max(...lists.map(([, l]) => l.length)) * lists.length }, (_, k) => {
    const [label, list] = lists[k % lists.length];
    return { label, path: list[Math.floor(k / lists.length) % list.length] };
  }).slice(0, lists.reduce((a, [, l]) => a + l.length, 0));
  for (let k = 0; k < n; k++) {
    const item = items[k % items.length];
    const dir = path.join(root, 'train', item.label);
    fs.mkdirSync(dir, { recursive: true });
    fs.linkSync(item.path, path.join(dir, `${k}_${path.basename(item.path)}`));
  }
  fs.symlinkSync(path.join(COVID, 'test'), path.join(root, 'test'));
  return root;
}

/** Images/s of decoding (and augmenting) the 251 training images at 224 px: this thread, then the pool with 1 and 2 workers. */
async function decodeScaling(): Promise<void> {
  const files = (await loadDataset(COVID)).items.filter((i) => i.split === 'train').map((i) => i.path);
  const rng = new Rng(1);
  const transforms = files.map(() => randomTransform(METHOD_AUGMENTATION, 224, rng));
  const rate = async (decode: (f: string, k: number) => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await mapLimit(files, 8, decode);
    return files.length / ((performance.now() - t) / 1000);
  };
  for (const augment of [false, true]) {
    const rates: string[] = [`this thread (4 in flight) ${(await rate((f, k) => decodeInThread(f, 224, augment ? transforms[k] : undefined))).toFixed(1)}`];
    const perWorkers: number[] = [];
    for (const workers of [1, 2]) {
      const started = performance.now();
      const pool = DecodePool.create(workers)!;
      await Promise.all(Array.from({ length: workers }, () => pool.decode(files[0], 224))); // workers up
      const startup = (performance.now() - started) / 1000;
      const r = await rate((f, k) => pool.decode(f, 224, augment ? transforms[k] : undefined));
      await pool.close();
      perWorkers.push(r);
      rates.push(`${workers} worker${workers > 1 ? 's' : ''} ${r.toFixed(1)} (start ${startup.toFixed(1)} s)`);
    }
    log(`decode${augment ? ' + augmentation' : ''} of ${files.length} images at 224 px, images/s: ${rates.join(', ')}; scaling 1 -> 2 workers ${(perWorkers[1] / perWorkers[0]).toFixed(2)}x`);
  }
}

/** The heatmap viewer's timings in code-server: the e2e file prints them, this reads them from its output. */
function heatmapViewer(): void {
  const missing = [vsixPath(), codeServerBin()].filter((p) => !fs.existsSync(p));
  if (missing.length > 0) {
    log(`heatmap viewer in code-server: not measured, missing ${missing.join(' and ')} (bash scripts/package-vsix.sh; bash scripts/install-e2e-deps.sh)`);
    return;
  }
  const vsixAge = (Date.now() - fs.statSync(vsixPath()).mtimeMs) / 60_000;
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'scripts', 'run-tests.mjs'), 'test/e2e/heatmapTrust.test.ts'], { cwd: repoRoot(), encoding: 'utf8', maxBuffer: 1 << 26 });
  const out = `${r.stdout}${r.stderr}`;
  const lines = out.split('\n').filter((l) => /\[e2e\] (open-to-overlay-|heatmap (open-to-overlay|switch times))/.test(l)).map((l) => l.replace(/^#\s*\[e2e\]\s*/, '  '));
  if (r.status !== 0 || lines.length === 0) {
    log(`heatmap viewer in code-server: the e2e run failed (exit ${r.status}); its output ends:\n${out.slice(-2000)}`);
    return;
  }
  log(`heatmap viewer in code-server (test/e2e/heatmapTrust.test.ts, the .vsix packaged ${vsixAge.toFixed(0)} min ago; open-to-overlay runs from choosing Show Heatmap to the overlay drawn):`);
  for (const line of lines) log(line);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  log(`# CXR Studio benchmark ${new Date().toISOString()}`);
  log(`machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`);
  log(`load average at start: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const ort = ortStatus();
  log(`passes without gradients: ${ort.available ? `onnxruntime ${ort.version}, ${ort.threads} intra-op threads` : `tfjs (${ort.reason})`}; training steps: tfjs, trainable convolutions on onnxruntime`);

  const gflops = await matmulGflops(1024);
  log(`matmul 1024^3 on onnxruntime: ${gflops.toFixed(1)} GFLOP/s`);

  if (!values['skip-decode']) await decodeScaling();
  // Its own process: VGG16's weights and activations stay out of this one's peak RSS.
  if (!values['skip-vgg']) spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot(), 'scripts', 'bench-vgg.ts')], { stdio: 'inherit' });

  if (!values['skip-reference']) {
    const cache = fs.mkdtempSync(path.join(work, 'cache-'));
    const env = { CXR_CACHE_DIR: cache };
    const run = path.join(work, 'reference');
    const train = child(env, 'train', COVID, run, '42', '20');
    const evaluation = child(env, 'evaluate', run, COVID);
    const grid = child(env, 'cam-grid', run, COVID, path.join(run, 'cam-grid.png'));
    const total = train.seconds + evaluation.seconds + grid.seconds;
    log(`reference job, empty cache (three processes; seconds inside each, process start-up not included):`);
    log(`  train ${train.seconds.toFixed(1)} s (engine start and the dataset audit ${train.marks.audited.toFixed(1)} s, model and weights ${(train.marks.features - train.marks.audited).toFixed(1)} s; decode + frozen pass ${(train.marks.training - train.marks.features).toFixed(1)} s), evaluate ${evaluation.seconds.toFixed(1)} s, cam-grid ${grid.seconds.toFixed(1)} s, total ${total.toFixed(1)} s`);
    log(`  test accuracy ${evaluation.correct}/${evaluation.n} (${(evaluation.accuracy * 100).toFixed(1)}%, 95% CI ${(evaluation.ci.low * 100).toFixed(1)}-${(evaluation.ci.high * 100).toFixed(1)}%); peak RSS train ${train.peakRssMiB} MiB, evaluate ${evaluation.peakRssMiB} MiB, cam-grid ${grid.peakRssMiB} MiB`);
    const warm = child(env, 'train', COVID, path.join(work, 'reference-seed7'), '7', '20');
    const m = warm.marks;
    const s2 = (v: number): string => v.toFixed(2);
    log(`  second train, seed 7, warm cache: ${s2(warm.seconds)} s = engine start and dataset audit (side by side) ${s2(m.audited)} s, ` +
      `model and weights ${s2(m.features - m.audited)} s, frozen outputs ${s2(m.training - m.features)} s (${warm.cache}), ` +
      `20 head epochs ${s2(m.trained - m.training)} s (of which the epochs' own compute ${s2(warm.epochCompute)} s, the rest writing the best model, checkpoint, history and status), ` +
      `the best model (handed over by the trainer, or read back) and scoring the stored features ${s2(m.fitting - m.trained)} s, OOD + calibration fit and model card ${s2(warm.seconds - m.fitting)} s`);
    const same = JSON.stringify(warm.losses) === JSON.stringify(child(env, 'train', COVID, path.join(work, 'reference-seed7-again'), '7', '20').losses);
    log(`  the same seed again gives the same per-epoch losses: ${same ? 'yes' : 'NO'}; seed 7 losses ${warm.losses.map((l: number) => l.toFixed(6)).join(' ')}`);
  }

  for (const n of values.sizes!.split(',').filter(Boolean).map(Number)) {
    const data = await replicate(n);
    const cache = fs.mkdtempSync(path.join(work, 'cache-'));
    // Replicas share their bytes with the 251 originals, so a content-addressed cache would serve most of them: off here.
    // The trainer alone: the dataset audit compares every pair of images, and on hard-linked replicas it would list
    // every byte-identical pair (about 800,000 at 20,080 images); it is timed with the reference job instead.
    if (values['scale-through'] === 'engine') {
      // The whole `cxr train` (feature cache off, as above): audit, trainer, then the OOD + calibration fit, which
      // with the cache off runs the model over the training images again.
      const r = child({ CXR_CACHE_DIR: cache, CXR_FEATURE_CACHE: 'off' }, 'train', data, path.join(work, `run-${n}`), '42', '5');
      const m = r.marks;
      log(`scale ${n} training images through cxr train, feature cache off: ${r.seconds.toFixed(1)} s = engine start + dataset audit ${m.audited.toFixed(1)} s ` +
        `(${r.audit}), model and weights ${(m.features - m.audited).toFixed(1)} s, decode + frozen pass ${(m.training - m.features).toFixed(1)} s = ${(n / (m.training - m.features)).toFixed(1)} images/s, ` +
        `5 head epochs ${(m.trained - m.training).toFixed(1)} s, OOD + calibration fit ${(r.seconds - m.trained).toFixed(1)} s; peak RSS ${r.peakRssMiB} MiB, load average now ${os.loadavg()[0].toFixed(1)}`);
      fs.rmSync(data, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
      continue;
    }
    const r = child({ CXR_CACHE_DIR: cache, CXR_FEATURE_CACHE: 'off' }, 'frozen-train', data, path.join(work, `run-${n}`), '42', '5');
    const frozen = r.marks.training - r.marks.features;
    log(`scale ${n} training images, feature cache off: decode + frozen pass ${frozen.toFixed(1)} s = ${(n / frozen).toFixed(1)} images/s ` +
      `(${(((n / frozen) * MNV2_GFLOP_PER_IMAGE) / gflops * 100).toFixed(0)}% of the matmul throughput), 5 head epochs ${(r.seconds - r.marks.training).toFixed(1)} s, model and weights before them ${r.marks.features.toFixed(1)} s, peak RSS ${r.peakRssMiB} MiB, load average now ${os.loadavg()[0].toFixed(1)}`);
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(cache, { recursive: true, force: true });
  }

  const requests = Number(values.requests);
  if (requests > 0) {
    const run = path.join(work, 'reference');
    if (!fs.existsSync(run)) child({ CXR_CACHE_DIR: path.join(work, 'cache-rpc') }, 'train', COVID, run, '42', '20');
    const images = (await loadDataset(COVID)).items.filter((i) => i.split === 'test').map((i) => i.path);
    const backend = await BackendProcess.start({ roots: [work, COVID] });
    try {
      for (let i = 0; i < 5; i++) await backend.conn.sendRequest(protocol.explain, { run, image: images[i], method: 'cam' });
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const t = performance.now();
        await backend.conn.sendRequest(protocol.explain, { run, image: images[i % images.length], method: 'cam' });
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      log(`classify + CAM (all classes, both methods) through JSON-RPC, ${requests} requests, warm: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms`);
    } finally {
      await backend.stop();
    }
  }
  if (!values['skip-editor']) heatmapViewer();
  log(`load average at end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
});

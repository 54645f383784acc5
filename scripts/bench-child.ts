/**
 * One measured job in its own process, for scripts/bench.ts: `train` (with phase times) or `evaluate` / `cam-grid`.
 * Prints one JSON line on stdout ending with this process's peak RSS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult } from '../server/src/engine/api';
import { Engine } from '../server/src/engine/engine';
import { train } from '../server/src/engine/train/trainer';
import { peakRssMiB } from './peakRss';

async function main(): Promise<void> {
  const [job, ...args] = process.argv.slice(2);
  const engine = new Engine();
  const t0 = performance.now();
  const marks: Record<string, number> = {};
  let result: Record<string, unknown> = {};
  if (job === 'train') {
    const [data, out, seed, epochs] = args;
    let epochCompute = 0;
    const r = await engine.train({ data, out, backbone: 'mobilenet_v2', seed: Number(seed), epochs: Number(epochs), valFraction: 0 }, (e) => {
      if (e.kind === 'epoch') epochCompute += e.seconds;
      if (e.kind === 'phase' && e.message.startsWith('Dataset audited') && marks.audited === undefined) marks.audited = performance.now() - t0;
      if (e.kind === 'phase' && e.message.startsWith('fitting the out-of-distribution') && marks.fitting === undefined) marks.fitting = performance.now() - t0;
      if (e.kind === 'phase' && e.message.startsWith('Running the frozen layers') && marks.features === undefined) marks.features = performance.now() - t0;
      if (e.kind === 'phase' && e.message.startsWith('Finished') && marks.trained === undefined) marks.trained = performance.now() - t0;
      if (e.kind === 'phase' && e.phase === 'training' && marks.training === undefined) marks.training = performance.now() - t0;
      if (e.kind === 'phase' && e.message.includes('from the cache')) result.cache = e.message;
    });
    // Per-epoch losses, to compare two builds: the same seed must give the same numbers.
    result = { ...result, status: r.status, loss: r.history.at(-1)?.loss, losses: r.history.map((h) => h.loss), epochCompute, audit: auditSummary(out) };
  } else if (job === 'frozen-train') {
    // The trainer alone (no dataset audit before it, no OOD fit after it): the frozen pass and the head epochs.
    const [data, out, seed, epochs] = args;
    const r = await train({ data, out, backbone: 'mobilenet_v2', seed: Number(seed), epochs: Number(epochs), valFraction: 0 }, {
      onEvent: (e) => {
        if (e.kind === 'phase' && e.message.startsWith('Running the frozen layers') && marks.features === undefined) marks.features = performance.now() - t0;
        if (e.kind === 'phase' && e.phase === 'training' && marks.training === undefined) marks.training = performance.now() - t0;
      },
    });
    result = { status: r.status, loss: r.history.at(-1)?.loss };
  } else if (job === 'evaluate') {
    const [run, data] = args;
    const r = await engine.evaluate({ run, data, split: 'test' });
    result = { correct: r.predictions.filter((p) => p.correct).length, n: r.n, accuracy: r.accuracy, ci: r.accuracy_ci };
  } else if (job === 'cam-grid') {
    const [run, data, out] = args;
    const r = await engine.camGrid({ run, data, split: 'test', out });
    result = { tiles: r.tiles };
  } else {
    throw new Error(`unknown job ${job}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const report = { job, seconds, marks: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, v / 1000])), peakRssMiB: peakRssMiB(), ...result };
  process.stdout.write(JSON.stringify(report) + '\n');
  engine.dispose();
}

/** The audit the run saved: images probed and duplicate pairs counted, and the size of its JSON. */
function auditSummary(runDir: string): string {
  const file = path.join(runDir, 'audit.json');
  if (!fs.existsSync(file)) return 'no audit.json';
  const text = fs.readFileSync(file, 'utf8');
  const a = JSON.parse(text) as AuditResult;
  const probes = a.probes ? `${a.probes.decoded} probes decoded, ${a.probes.fromCache} from the cache` : '';
  return `${probes}; ${a.duplicateTotals?.pairs ?? a.duplicates.length} duplicate pairs, ${a.duplicates.length} listed; audit.json ${(text.length / 1024).toFixed(0)} KiB`;
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});

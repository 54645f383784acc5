/**
 * The cold reference job exactly as a user runs it (not a test): `cxr train` (MobileNetV2, 20 epochs on all 251
 * training images, seed 42), `cxr evaluate --split test`, `cxr cam-grid`, three processes one after another with an
 * empty CXR_CACHE_DIR, each timed from process start to exit (start-up, module loading and engine start included).
 * With --baseline <checkout> the same job runs with that checkout's bin/cxr.js too, alternating, so both are
 * measured under the same load: compare the ratio, not the seconds, on a shared machine.
 *
 *   node --import tsx scripts/bench-cold-reference.ts [--baseline DIR] [--rounds N] [--cli bin|dist]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir, repoRoot } from '../server/src/engine/locations';

const { values } = parseArgs({ options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '1' }, cli: { type: 'string', default: 'bin' } } });
const DATA = path.join(dataDir(), 'covid19-dataset');
const log = (s: string): void => void process.stdout.write(s + '\n');

interface Job {
  train: number;
  evaluate: number;
  camGrid: number;
  total: number;
  correct: string;
}

function runJob(checkout: string): Job {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-cold-'));
  const env = { ...process.env, CXR_CACHE_DIR: path.join(work, 'cache') };
  const cli = values.cli === 'dist' ? path.join(checkout, 'dist', 'cli.js') : path.join(checkout, 'bin', 'cxr.js');
  const run = path.join(work, 'run');
  const timed = (...args: string[]): { seconds: number; stdout: string } => {
    const t = performance.now();
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`cxr ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return { seconds: (performance.now() - t) / 1000, stdout: r.stdout };
  };
  try {
    const train = timed('train', DATA, '--out', run, '--backbone', 'mobilenet_v2', '--epochs', '20', '--seed', '42', '--val-fraction', '0');
    const evaluation = timed('evaluate', run, DATA, '--split', 'test', '--json');
    const grid = timed('cam-grid', run, DATA, '--out', path.join(work, 'grid.png'));
    const e = JSON.parse(evaluation.stdout) as { n: number; predictions: { correct: boolean }[] };
    return {
      train: train.seconds,
      evaluate: evaluation.seconds,
      camGrid: grid.seconds,
      total: train.seconds + evaluation.seconds + grid.seconds,
      correct: `${e.predictions.filter((p) => p.correct).length}/${e.n}`,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function line(name: string, j: Job): string {
  return `${name}: train ${j.train.toFixed(1)} s, evaluate ${j.evaluate.toFixed(1)} s, cam-grid ${j.camGrid.toFixed(1)} s, total ${j.total.toFixed(1)} s, test ${j.correct}`;
}

log(`# cold reference job through ${values.cli === 'dist' ? 'dist/cli.js' : 'bin/cxr.js'}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
for (let round = 1; round <= Number(values.rounds); round++) {
  const load = os.loadavg()[0].toFixed(1);
  const base = values.baseline ? runJob(path.resolve(values.baseline)) : null;
  const mine = runJob(repoRoot());
  log(`round ${round} (load average ${load} -> ${os.loadavg()[0].toFixed(1)})`);
  if (base) log(`  ${line('baseline', base)}`);
  log(`  ${line('this checkout', mine)}`);
  if (base) log(`  ratio this/baseline: train ${(mine.train / base.train).toFixed(2)}, evaluate ${(mine.evaluate / base.evaluate).toFixed(2)}, cam-grid ${(mine.camGrid / base.camGrid).toFixed(2)}, total ${(mine.total / base.total).toFixed(2)}`);
}

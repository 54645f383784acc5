/**
 * The reference workload, and its benchmark: MobileNetV2 with the ImageNet weights from ../shared on the Kaggle
 * COVID-19 set (251 train / 66 test), the default recipe, then evaluation on the 66 test images and the CAM grid.
 * Prints wall time per phase, peak RSS, the backend, test accuracy with its interval and the confusion matrix.
 *
 *   npm run reference [-- --data DIR --out DIR --backbone mobilenet_v2 --epochs N --no-augment --json]
 *                     [--freeze-at LAYER --batch-norm inference|batch]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BackboneId, BatchNormMode } from '../server/src/engine/api';
import { Engine } from '../server/src/engine/engine';
import { dataDir } from '../server/src/engine/locations';
import { formatEvaluation, formatTrainEvent } from '../server/src/cli/format';
import { hugePagesEnv } from '../server/src/launch/hugePages';
import { peakRssMiB } from './peakRss';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: path.join(dataDir(), 'covid19-dataset') },
      out: { type: 'string', default: path.join('runs', `reference-${new Date().toISOString().replace(/[:.]/g, '-')}`) },
      backbone: { type: 'string', default: 'mobilenet_v2' },
      epochs: { type: 'string' },
      'no-augment': { type: 'boolean', default: false },
      augment: { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      // The method trains on all 251 training images for a fixed 20 epochs; BENCHMARKS.md compares this with carving
      // out a 10% validation split for checkpoint selection (the engine's general default), seed by seed.
      'val-fraction': { type: 'string', default: '0' },
      'freeze-at': { type: 'string' },
      'batch-norm': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const engine = new Engine({ log });
  const t0 = Date.now();
  const backend = await engine.init();
  log(`backend: ${backend.name} (${backend.reason})`);

  const tTrain = Date.now();
  const trained = await engine.train(
    {
      data: values.data!,
      out: values.out!,
      backbone: values.backbone as BackboneId,
      epochs: values.epochs ? Number(values.epochs) : undefined,
      seed: Number(values.seed),
      valFraction: Number(values['val-fraction']),
      augment: values['no-augment'] ? false : values.augment ? true : undefined,
      freezeAt: values['freeze-at'],
      batchNorm: values['batch-norm'] as BatchNormMode | undefined,
    },
    (e) => {
      const line = formatTrainEvent(e);
      if (line) log(line);
    },
  );
  const trainSeconds = (Date.now() - tTrain) / 1000;

  const tEval = Date.now();
  const evaluation = await engine.evaluate({ run: trained.runDir, data: values.data!, split: 'test' });
  const evalSeconds = (Date.now() - tEval) / 1000;
  log(formatEvaluation(evaluation));

  const tCam = Date.now();
  const grid = await engine.camGrid({ run: trained.runDir, data: values.data!, split: 'test', out: path.join(trained.runDir, 'cam-grid.png') });
  const camSeconds = (Date.now() - tCam) / 1000;

  // Shortcut audits on the test split: saved in the run and written into its model card with everything else.
  const tShortcuts = Date.now();
  const shortcuts = await engine.shortcuts({ run: trained.runDir, data: values.data!, split: 'test' });
  const shortcutSeconds = (Date.now() - tShortcuts) / 1000;
  const card = await engine.modelCard(trained.runDir);

  const summary = {
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`,
    backend: backend.name,
    backbone: values.backbone,
    run: trained.runDir,
    epochs: trained.epochsRun,
    bestEpoch: trained.bestEpoch,
    seconds: { train: trainSeconds, evaluate: evalSeconds, camGrid: camSeconds, shortcuts: shortcutSeconds, total: (Date.now() - t0) / 1000 },
    peakRssMiB: peakRssMiB(),
    testAccuracy: evaluation.accuracy,
    testAccuracyCi95: [evaluation.accuracy_ci.low, evaluation.accuracy_ci.high],
    correct: `${evaluation.predictions.filter((p) => p.correct).length}/${evaluation.n}`,
    classes: evaluation.classes,
    confusionMatrix: evaluation.confusion_matrix,
    camGrid: grid.out,
    report: evaluation.files.markdown,
    shortcutAudits: shortcuts.checks.map((c) => ({ name: c.name, value: c.value, sentence: c.sentence })),
    modelCard: card.file,
  };
  fs.writeFileSync(path.join(trained.runDir, 'benchmark.json'), JSON.stringify(summary, null, 2) + '\n');
  if (values.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    process.stdout.write(
      [
        `machine: ${summary.machine}`,
        `backend: ${summary.backend}; backbone ${summary.backbone}; ${summary.epochs} epochs (best ${summary.bestEpoch})`,
        `wall time: train ${trainSeconds.toFixed(1)} s, evaluate ${evalSeconds.toFixed(1)} s, CAM grid ${camSeconds.toFixed(1)} s, shortcut audits ${shortcutSeconds.toFixed(1)} s, total ${summary.seconds.total.toFixed(1)} s`,
        `peak RSS: ${summary.peakRssMiB} MiB`,
        `test accuracy: ${(evaluation.accuracy * 100).toFixed(1)}% (${summary.correct}), 95% Wilson CI ${(evaluation.accuracy_ci.low * 100).toFixed(1)}-${(evaluation.accuracy_ci.high * 100).toFixed(1)}%`,
        `confusion matrix (rows true ${evaluation.classes.join(' | ')}): ${JSON.stringify(evaluation.confusion_matrix)}`,
        `CAM grid: ${grid.out}`,
        `report: ${evaluation.files.markdown}`,
        ...shortcuts.checks.map((c) => `shortcut audit, ${c.name}: ${c.sentence}`),
        `model card: ${card.file}`,
      ].join('\n') + '\n',
    );
  }
  engine.dispose();
}

// Started as the CLI and the language server start the engine: in a process with huge pages for malloc where they
// apply (server/src/launch/hugePages.ts), since glibc reads its tunables only at start-up.
const tuned = hugePagesEnv(process.env);
if (tuned) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: tuned });
  process.exitCode = child.status ?? 1;
} else {
  main().catch((e: unknown) => {
    process.stderr.write(`reference run failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}

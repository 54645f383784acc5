import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BackboneId, BackendName, BatchNormMode, CamMethodName, TrainEvent } from '../engine/api';
import { doctorReport } from '../engine/backend/doctor';
import { ORT_PROVIDER_ENV, ORT_PROVIDER_PREFERENCES, parseOrtProviderPreference } from '../engine/backend/ortProviders';
import { TFJS_NODE_ENV } from '../engine/backend/tensorflowNode';
import { Engine } from '../engine/engine';
import { CxrError, toCxrError } from '../engine/errors';
import { METHOD_AUGMENTATION } from '../engine/models/registry';
import { isImageFile } from '../engine/data/imageFiles';
import { parseLabelMap } from '../engine/eval/labelMap';
import { BACKBONE_IDS, BACKEND_NAMES, BATCH_NORM_MODES, CAM_METHODS, IMAGE_EXTENSIONS, isOneOf, SPLIT_NAMES } from '../engine/names';
import { listRuns } from '../engine/runStore';
import { HUGE_PAGES_TUNABLE } from '../launch/hugePages';
import { formatAudit } from './formatAudit';
import { formatTrainEvent, formatEvaluation } from './format';
import { formatPrediction } from './formatPrediction';

const USAGE = `cxr - train, evaluate and explain chest X-ray classifiers (research use only, not a diagnostic device)

Usage:
  cxr doctor [--json]
  (every command) [--backend ${BACKEND_NAMES.join('|')}] [--tfjs-node DIR] [--ort-provider ${ORT_PROVIDER_PREFERENCES.join('|')}]
  cxr train <data> --out <run> [--backbone ${BACKBONE_IDS.join('|')}] [--weights FILE] [--epochs N] [--batch N]
            [--lr X] [--momentum X] [--seed N] [--val-fraction X] [--freeze-at LAYER] [--batch-norm ${BATCH_NORM_MODES.join('|')}]
            [--augment|--no-augment] [--resume] [--json]
  cxr evaluate <run> <data> [--split ${[...SPLIT_NAMES].reverse().join('|')}|all] [--map "A=X,B=X"] [--out DIR] [--json]
  cxr predict <run> <image|folder>... [--abstain-below P] [--ignore-ood] [--json]
  cxr predict --backbone B --weights FILE --labels FILE <image|folder>... [--top N] [--json]
  cxr cam <run> <image> --out <png> [--method ${CAM_METHODS.join('|')}] [--class NAME] [--alpha X] [--json]
  cxr cam-grid <run> <data> --out <png> [--split test] [--method ${CAM_METHODS.join('|')}] [--limit N] [--json]
  cxr runs <folder> [--json]
  cxr export <run> --format onnx|tfjs [--out FILE|DIR] [--json]   [0,1] RGB NHWC in, probabilities in class order out
  cxr cache info|clear [--json]   the feature cache (CXR_CACHE_DIR, default the user's cache folder)
  cxr card <run> [--json]         write and print the run's model card (MODEL_CARD.md)
  cxr audit <data> [--json]       duplicates across splits, source-confound probe, patients, class balance
  cxr shortcuts <run> <data> [--split test] [--limit N] [--json]   lungs-masked / border-only accuracy, heatmap energy in
            the lung field, weight-randomisation check of the heatmaps (N: images for the heatmap checks, default 200)

--backend picks the TensorFlow.js backend (default: tensorflow if found, else wasm; webgpu only when asked for; a GPU
backend that fails falls back to the CPU with a warning). --tfjs-node (or ${TFJS_NODE_ENV}) names the folder holding your
@tensorflow/tfjs-node-gpu or tfjs-node 4.22. --ort-provider (or ${ORT_PROVIDER_ENV}) picks ONNX Runtime's execution provider.
<data> is a folder laid out as <data>/{train,test}/<class>/<images> or a CSV manifest (path,label[,split][,patient_id]).
Progress goes to stderr; --json prints one JSON document on stdout. Exit status: 0 success, 1 failure, 2 usage, 130 cancelled.`;


class UsageError extends Error {}

function formatGradientFree(report: Awaited<ReturnType<Engine['init']>>): string {
  const g = report.gradientFree;
  if (!g) return 'tfjs';
  return g.engine === 'onnxruntime' ? `onnxruntime ${g.version}, ${g.threads} intra-op threads` : `tfjs (${g.reason})`;
}

/** Engine errors that mean the command line asked for something invalid: exit 2, like parse errors. */
const USAGE_ERROR_CODES: ReadonlySet<string> = new Set(['INVALID_ARGUMENT', 'OUTPUT_INVALID']);

interface Io {
  json: boolean;
  out: (value: unknown, human: string) => void;
  progress: (line: string) => void;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      backbone: { type: 'string' },
      weights: { type: 'string' },
      labels: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      momentum: { type: 'string' },
      seed: { type: 'string' },
      'val-fraction': { type: 'string' },
      'freeze-at': { type: 'string' },
      'batch-norm': { type: 'string' },
      'no-augment': { type: 'boolean', default: false },
      augment: { type: 'boolean', default: false },
      resume: { type: 'boolean', default: false },
      split: { type: 'string' },
      method: { type: 'string' },
      class: { type: 'string' },
      alpha: { type: 'string' },
      top: { type: 'string' },
      limit: { type: 'string' },
      backend: { type: 'string' },
      'tfjs-node': { type: 'string' },
      'ort-provider': { type: 'string' },
      format: { type: 'string' },
      'abstain-below': { type: 'string' },
      map: { type: 'string' },
      'ignore-ood': { type: 'boolean', default: false },
    },
  });
  if (values['tfjs-node'] !== undefined) process.env[TFJS_NODE_ENV] = values['tfjs-node'];
  if (values['ort-provider'] !== undefined) {
    process.env[ORT_PROVIDER_ENV] = usage(() => parseOrtProviderPreference(values['ort-provider'], '--ort-provider'));
  }
  const io: Io = {
    json: values.json === true,
    out: (value, human) => process.stdout.write((values.json ? JSON.stringify(value, null, 2) : human) + '\n'),
    progress: (line) => process.stderr.write(line + '\n'),
  };
  const engine = new Engine({ backend: backendName(values.backend), log: (m) => io.progress(m) });
  const controller = new AbortController();
  process.once('SIGINT', () => {
    if (command !== 'train') {
      // Nothing to keep: predict, evaluate and the CAM commands write their files whole (atomic renames) or not at all.
      process.stderr.write(`cxr: ${command} cancelled (Ctrl-C).\n`);
      process.exit(130);
    }
    io.progress('Cancelling after the current batch (press Ctrl-C again to abort at once)...');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });

  switch (command) {
    case 'doctor': {
      const report = await doctorReport(await engine.init());
      const ort = report.onnxRuntime;
      const lines = [
        `backend: ${report.name} (${report.reason})`,
        `device: ${report.device.kind.toUpperCase()} - ${report.device.name}`,
        ...report.warnings.map((w) => `warning: ${w}`),
        ...report.candidates.map((c) => `  ${c.name}: ${c.available ? 'available' : 'unavailable'} - ${c.why}`),
        `custom kernels: ${report.customKernels.join(', ') || 'none'}`,
        `passes without gradients (frozen layers, predict, evaluate, CAM): ${formatGradientFree(report)}`,
        ...Object.entries(report.versions).map(([k, v]) => `${k}: ${v}`),
        `onnx runtime: ${ort.available ? ort.why : `unavailable - ${ort.why}`}`,
        ...ort.providers.map((p) => `  ${p.name}: ${p.available ? 'available' : 'unavailable'} - ${p.why}`),
        ...ort.warnings.map((w) => `warning: ${w}`),
        `malloc huge pages: ${report.process.glibcTunables?.includes(HUGE_PAGES_TUNABLE) ? `on (GLIBC_TUNABLES ${HUGE_PAGES_TUNABLE})` : 'off'}`,
      ];
      io.out(report, lines.join('\n'));
      return 0;
    }
    case 'train': {
      const data = need(positionals[0], '<data>');
      const out = need(values.out, '--out <run>');
      const result = await engine.train(
        {
          data,
          out,
          backbone: (values.backbone ?? BACKBONE_IDS[0]) as BackboneId,
          weights: values.weights,
          epochs: int(values.epochs, '--epochs'),
          batchSize: int(values.batch, '--batch'),
          learningRate: num(values.lr, '--lr'),
          momentum: num(values.momentum, '--momentum'),
          seed: int(values.seed, '--seed'),
          valFraction: num(values['val-fraction'], '--val-fraction'),
          freezeAt: values['freeze-at'],
          batchNorm: batchNorm(values['batch-norm']),
          augment: values['no-augment'] ? false : values.augment ? METHOD_AUGMENTATION : undefined,
          resume: values.resume,
        },
        (e: TrainEvent) => {
          const line = formatTrainEvent(e);
          if (line) io.progress(line);
        },
        controller.signal,
      );
      io.out(result, `${result.status}: ${result.epochsRun} epochs, best epoch ${result.bestEpoch ?? '-'} ` +
        `(val accuracy ${result.bestValAccuracy?.toFixed(3) ?? '-'}), ${result.seconds.toFixed(1)} s on ${result.backend} (${result.device?.kind.toUpperCase() ?? '?'}: ${result.device?.name ?? 'unknown'}). Run: ${result.runDir}`);
      return result.status === 'cancelled' ? 130 : 0;
    }
    case 'evaluate': {
      const run = need(positionals[0], '<run>');
      const data = need(positionals[1], '<data>');
      const split = (values.split ?? 'test') as 'test' | 'val' | 'train' | 'all';
      const result = await engine.evaluate(
        { run, data, split, outDir: values.out, labelMap: values.map === undefined ? undefined : parseLabelMap(values.map) },
        (done, total) => io.progress(`evaluating ${done}/${total}`),
        controller.signal,
      );
      io.out(result, formatEvaluation(result));
      return 0;
    }
    case 'predict': {
      const raw = values.backbone !== undefined && values.weights !== undefined;
      const run = raw ? undefined : need(positionals[0], '<run>');
      const inputs = raw ? positionals : positionals.slice(1);
      const files = expandImages(inputs);
      const predictions = await engine.predict({
        run,
        backbone: raw ? (values.backbone as BackboneId) : undefined,
        weights: raw ? values.weights : undefined,
        labels: values.labels,
        files,
        topK: int(values.top, '--top'),
        abstainBelow: num(values['abstain-below'], '--abstain-below'),
        ignoreOod: values['ignore-ood'],
      });
      io.out(predictions, predictions.map(formatPrediction).join('\n'));
      return 0;
    }
    case 'cam': {
      const run = need(positionals[0], '<run>');
      const image = need(positionals[1], '<image>');
      const out = need(values.out, '--out <png>');
      const result = await engine.explain({
        run,
        image,
        out,
        method: method(values.method),
        className: values.class,
        alpha: num(values.alpha, '--alpha'),
      });
      const { heatmap: _omit, ...summary } = result;
      io.out(summary, `${result.method} for '${result.target}' (predicted ${result.predicted}) written to ${result.overlayPath}`);
      return 0;
    }
    case 'cam-grid': {
      const run = need(positionals[0], '<run>');
      const data = need(positionals[1], '<data>');
      const out = need(values.out, '--out <png>');
      const result = await engine.camGrid({
        run,
        data,
        out,
        split: (values.split ?? 'test') as 'test',
        method: method(values.method),
        limit: int(values.limit, '--limit'),
      });
      io.out(result, [
        `CAM grid of ${result.tiles} images (${result.correct} correct) written to ${result.out}`,
        ...result.unreadable.map((u) => `excluded (unreadable): ${u.file} [${u.code}] ${u.reason}`),
      ].join('\n'));
      return 0;
    }
    case 'card': {
      const card = await engine.modelCard(need(positionals[0], '<run>'));
      io.out(card, card.markdown);
      return 0;
    }
    case 'shortcuts': {
      const run = need(positionals[0], '<run>');
      const data = need(positionals[1], '<data>');
      const split = (values.split ?? 'test') as 'test' | 'val' | 'train' | 'all';
      const result = await engine.shortcuts({ run, data, split, limit: int(values.limit, '--limit') }, (done, total) => io.progress(`shortcut audits ${done}/${total}`), controller.signal);
      io.out(result, [`Shortcut audits of ${result.run} on the ${result.split} split of ${result.data} (${result.n} images):`, ...result.checks.map((c) => `- ${c.name}: ${c.sentence}`)].join('\n'));
      return 0;
    }
    case 'audit': {
      const data = need(positionals[0], '<data>');
      const result = await engine.audit({ data, seed: int(values.seed, '--seed') }, (done, total) => io.progress(`auditing ${done}/${total}`), controller.signal);
      io.out(result, formatAudit(result));
      return 0;
    }
    case 'export': {
      const run = need(positionals[0], '<run>');
      const format = need(values.format, '--format onnx|tfjs') as 'onnx' | 'tfjs';
      const result = await engine.export({ run, format, out: values.out });
      io.out(result, `${result.format} model written to ${result.path}\ninput: ${result.input.name} [${result.input.shape.map((d) => d ?? 'batch').join(', ')}] ${result.input.range}\noutput: ${result.outputName}, ${result.output}: ${result.classes.join(', ')}\nmodel card: ${result.modelCard}`);
      return 0;
    }
    case 'cache': {
      const action = need(positionals[0], 'info|clear');
      if (action !== 'info' && action !== 'clear') throw new UsageError(`Unknown cache action '${action}': use info or clear.`);
      const info = action === 'info' ? engine.cacheInfo() : engine.clearCache();
      const size = `${info.entries - info.auditRecords - info.mapRecords} stored frozen outputs, ${info.auditRecords} audit records, ${info.mapRecords} images' class maps, ${(info.bytes / 2 ** 20).toFixed(1)} MiB`;
      io.out(info, action === 'info' ? `feature cache: ${info.dir}\n${size}` : `cleared ${info.dir}: ${size} removed`);
      return 0;
    }
    case 'runs': {
      const runs = await listRuns(need(positionals[0], '<folder>'));
      io.out(runs, runs.map((r) => `${r.name}\t${r.status}\t${r.backbone}\t${r.epochsRun}/${r.epochs}\ttest acc ${r.testAccuracy?.toFixed(3) ?? '-'}`).join('\n') || 'no runs');
      return 0;
    }
    default:
      throw new UsageError(`Unknown command '${command}'.`);
  }
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new UsageError(`Missing ${what}.`);
  return value;
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got '${value}'.`);
  return n;
}

function int(value: string | undefined, flag: string): number | undefined {
  const n = num(value, flag);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${flag} needs a whole number, got '${value}'.`);
  return n;
}

function backendName(value: string | undefined): BackendName | undefined {
  if (value === undefined) return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got '${value}'.`);
  return value as BackendName;
}

function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function batchNorm(value: string | undefined): BatchNormMode | undefined {
  if (value === undefined) return undefined;
  if (!isOneOf(BATCH_NORM_MODES, value)) throw new UsageError(`--batch-norm must be one of ${BATCH_NORM_MODES.join(', ')}, got '${value}'.`);
  return value;
}

function method(value: string | undefined): CamMethodName | undefined {
  if (value === undefined) return undefined;
  if (!isOneOf(CAM_METHODS, value)) throw new UsageError(`--method must be one of ${CAM_METHODS.join(', ')}, got '${value}'.`);
  return value;
}

/** Folders expand to the images directly and recursively inside them, sorted. */
function expandImages(inputs: string[]): string[] {
  if (inputs.length === 0) throw new UsageError('Give at least one image or folder.');
  const files: string[] = [];
  for (const input of inputs) {
    if (!fs.existsSync(input)) throw new CxrError('NOT_FOUND', `No such file or folder: ${input}`);
    if (fs.statSync(input).isDirectory()) {
      const found = (fs.readdirSync(input, { recursive: true }) as string[])
        .filter((f) => isImageFile(f) && !path.basename(f).startsWith('.'))
        .sort()
        .map((f) => path.join(input, f));
      if (found.length === 0) throw new CxrError('NOT_FOUND', `No images (${IMAGE_EXTENSIONS.join(' ')}) in folder ${input}`);
      files.push(...found);
    } else {
      files.push(input);
    }
  }
  return files;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || (e instanceof Error && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`cxr: ${e.message}\nRun 'cxr --help' for usage.\n`);
      process.exitCode = 2;
      return;
    }
    const err = toCxrError(e);
    process.stderr.write(`cxr: error [${err.code}]: ${err.message}\n`);
    if (err.code === 'INTERNAL' && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } }) + '\n');
    // A request the engine refused as malformed is a usage error, like one the argument parser caught.
    process.exitCode = err.code === 'CANCELLED' ? 130 : USAGE_ERROR_CODES.has(err.code) ? 2 : 1;
  },
);

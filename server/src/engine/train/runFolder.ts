import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { EpochMetrics, RunConfig, RunStatus } from '../api';
import { CxrError } from '../errors';
import { validateRunConfig } from '../numbers';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import {
  readJson,
  recoverableDir,
  recoverDir,
  removeFileLeftovers,
  replaceDirAtomic,
  writeFileAtomic,
  writeJsonAtomic,
} from '../util/atomic';

/**
 * The files of one run folder. Everything a run needs to be evaluated, explained or resumed lives here. With a
 * restricting path policy, every file and folder of the run is checked when it is named, so a symlink inside the run
 * (config.json, model/, evaluation/ ...) cannot lead a read or a write outside the allowed roots.
 */
export class RunFolder {
  readonly dir: string;

  constructor(dir: string, private readonly policy: PathPolicy = UNRESTRICTED) {
    this.dir = path.resolve(dir);
  }

  get configFile(): string { return this.entry('config.json'); }
  get classesFile(): string { return this.entry('classes.json'); }
  get statusFile(): string { return this.entry('status.json'); }
  get historyFile(): string { return this.entry('history.json'); }
  get modelDir(): string { return this.entry('model'); }
  get checkpointDir(): string { return this.entry('checkpoint'); }
  get evaluationRoot(): string { return this.entry('evaluation'); }
  /** The dataset audit taken before training (AuditResult). */
  get auditFile(): string { return this.entry('audit.json'); }
  /** Out-of-distribution model: metadata, and the training images' pooled features (float32). */
  get oodFile(): string { return this.entry('ood.json'); }
  get oodFeaturesFile(): string { return this.entry('ood-train-features.bin'); }
  /** Temperature scaling and reliability on the validation split. */
  get calibrationFile(): string { return this.entry('calibration.json'); }
  /** Shortcut audits of the trained model (ShortcutAuditResult). */
  get shortcutsFile(): string { return this.entry('shortcuts.json'); }
  /** The model card (Markdown), rewritten after training, evaluation and shortcut audits. */
  get modelCardFile(): string { return this.entry('MODEL_CARD.md'); }
  /** The user's display name, notes and tags (RunMeta), written only by the run store. */
  get metaFile(): string { return this.entry('meta.json'); }

  /** A path inside the run, checked against the path policy (`evaluation/test`, `model/weights_manifest.json`). */
  entry(relative: string): string {
    return this.policy.check(path.join(this.dir, relative), 'run file', `'${relative}' of run ${path.basename(this.dir)}`);
  }

  exists(): boolean {
    return fs.existsSync(this.configFile);
  }

  hasModel(): boolean {
    return this.modelDirForReading() !== null;
  }

  /**
   * Where the best model can be read from without writing anything: model/, or after a crash in the middle of its
   * swap the complete sibling that recover() would restore (so a read-only run can still be evaluated).
   */
  modelDirForReading(): string | null {
    const dir = recoverableDir(this.modelDir, (d) => isCompleteWeightsDir(d, false), 'older');
    return dir !== null && isCompleteWeightsDir(dir, false) ? dir : null;
  }

  /**
   * Puts every interrupted atomic write right (a crash can stop training between any two steps): model/ and
   * checkpoint/ are restored from their complete `.tmp-*` / `.old-*` siblings when missing, every leftover is
   * removed. model/ prefers the older copy (it matches the checkpoint's best epoch, the newer one is re-made when
   * that epoch is re-trained); checkpoint/ the newer one (history.json is written before it). Returns what it did.
   */
  recover(): string[] {
    return [
      ...recoverDir(this.modelDir, (d) => isCompleteWeightsDir(d, false), 'older'),
      ...recoverDir(this.checkpointDir, (d) => isCompleteWeightsDir(d, true), 'newer'),
      ...RUN_FILES.flatMap((f) => removeFileLeftovers(this.entry(f))),
    ];
  }

  readConfig(): RunConfig {
    if (!fs.existsSync(this.configFile)) {
      throw new CxrError('RUN_INVALID', `${this.dir} is not a CXR Studio run folder (no config.json). Train one with 'cxr train'.`);
    }
    return validateRunConfig(readJson<unknown>(this.configFile), this.configFile);
  }

  writeConfig(config: RunConfig): void {
    writeJsonAtomic(this.configFile, config);
    writeJsonAtomic(this.classesFile, Object.fromEntries(config.classes.map((c, i) => [i, c])));
  }

  readStatus(): RunStatusFile | null {
    return fs.existsSync(this.statusFile) ? readJson<RunStatusFile>(this.statusFile) : null;
  }

  writeStatus(status: RunStatusFile): void {
    writeJsonAtomic(this.statusFile, status);
  }

  readHistory(): EpochMetrics[] {
    return fs.existsSync(this.historyFile) ? readJson<EpochMetrics[]>(this.historyFile) : [];
  }

  writeHistory(history: EpochMetrics[]): void {
    writeJsonAtomic(this.historyFile, history);
  }
}

/** The entries a run folder holds, and the files inside its weight folders: everything else is not the run's. */
const RUN_FILES = [
  'config.json', 'classes.json', 'status.json', 'history.json', 'audit.json',
  'ood.json', 'ood-train-features.bin', 'calibration.json', 'shortcuts.json', 'MODEL_CARD.md', 'meta.json',
];
/** Folders of files the engine writes into a run (reports per split, rendered exports). */
const REPORT_FOLDERS = ['evaluation', 'exports'];
const WEIGHT_FOLDERS = ['model', 'checkpoint'];
const WEIGHT_FILES = ['weights_manifest.json', 'weights.bin', 'state.json'];
/** Leftovers of atomic writes (writeFileAtomic, replaceDirAtomic) interrupted by a crash. */
const LEFTOVER = /\.(tmp|old)-\d+-\d+$/;

/**
 * Sorts a run folder's entries into the run's own (config, status, history, model/, checkpoint/, evaluation/ with
 * one folder of reports per split, leftovers of interrupted atomic writes) and anything else, with paths relative
 * to the run. Symlinks are never the run's.
 */
export function verifyRunContents(dir: string): { entries: string[]; unexpected: string[] } {
  const entries: string[] = [];
  const unexpected: string[] = [];
  const kind = (p: string): 'file' | 'dir' | 'other' => {
    const s = fs.lstatSync(p);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
  };
  const onlyFiles = (rel: string, allowed: (name: string) => boolean): void => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      if (kind(path.join(dir, rel, name)) !== 'file' || !allowed(name)) unexpected.push(path.join(rel, name));
    }
  };
  for (const name of fs.readdirSync(dir).sort()) {
    const k = kind(path.join(dir, name));
    const base = name.replace(LEFTOVER, '');
    if (k === 'file' && (RUN_FILES.includes(base) || (LEFTOVER.test(name) && RUN_FILES.includes(base)))) entries.push(name);
    else if (k === 'dir' && WEIGHT_FOLDERS.includes(base)) {
      onlyFiles(name, (f) => WEIGHT_FILES.includes(f.replace(LEFTOVER, '')));
      entries.push(name);
    } else if (k === 'dir' && REPORT_FOLDERS.includes(name)) {
      for (const sub of fs.readdirSync(path.join(dir, name))) {
        const subKind = kind(path.join(dir, name, sub));
        if (subKind === 'dir') onlyFiles(path.join(name, sub), () => true);
        else if (subKind !== 'file') unexpected.push(path.join(name, sub));
      }
      entries.push(name);
    } else unexpected.push(name);
  }
  return { entries, unexpected };
}

export interface RunStatusFile {
  status: RunStatus;
  epochsRun: number;
  epochs: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  bestValAccuracy: number | null;
  testAccuracy: number | null;
  updatedAt: string;
  pid: number;
  message?: string;
}

export interface TrainerState {
  epochsDone: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  bestValAccuracy: number | null;
  rngState: number;
}

/** An optimizer slot as tf.Optimizer.getWeights() returns it. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const MANIFEST = 'weights_manifest.json';
const SHARD = 'weights.bin';

/** Whether a model/ or checkpoint/ folder (or a swap sibling) was written in full: manifest, shard of its size, state. */
export function isCompleteWeightsDir(dir: string, needsState: boolean): boolean {
  try {
    const manifest = readJson<{ paths: string[]; weights: { shape: number[]; dtype: string }[] }[]>(path.join(dir, MANIFEST));
    const expected = manifest[0].weights.reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    if (fs.statSync(path.join(dir, SHARD)).size !== expected) return false;
    if (needsState) readJson(path.join(dir, 'state.json'));
    return true;
  } catch {
    return false;
  }
}

/** Writes named tensors as a TF.js weights manifest + one shard into `dir`, replacing it atomically. */
export async function saveNamedTensors(dir: string, tensors: tf.NamedTensorMap, extra?: Record<string, unknown>): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  replaceDirAtomic(dir, (tmp) => {
    writeFileAtomic(path.join(tmp, SHARD), new Uint8Array(data));
    writeJsonAtomic(path.join(tmp, MANIFEST), [{ paths: [SHARD], weights: specs }]);
    if (extra) writeJsonAtomic(path.join(tmp, 'state.json'), extra);
  });
}

/** The model's weights keyed by Keras-style 'layer/weight' names, as weight files use them. */
export function modelWeightMap(model: tfl.LayersModel): tf.NamedTensorMap {
  const map: tf.NamedTensorMap = {};
  for (const w of model.weights) map[w.originalName] = w.read();
  return map;
}

export async function saveModel(dir: string, model: tfl.LayersModel): Promise<void> {
  await saveNamedTensors(dir, modelWeightMap(model));
}

/** A checkpoint: the whole model, the optimizer's slots (in variable order) and the trainer's counters. */
export async function saveCheckpoint(
  dir: string,
  model: tfl.LayersModel,
  optimizerWeights: NamedTensor[],
  state: TrainerState,
): Promise<void> {
  const tensors = modelWeightMap(model);
  optimizerWeights.forEach((w, i) => {
    tensors[`__optimizer__/${String(i).padStart(4, '0')}`] = w.tensor;
  });
  await saveNamedTensors(dir, tensors, { ...state, optimizerSlots: optimizerWeights.map((w) => w.name) });
}

export function readCheckpointState(dir: string): (TrainerState & { optimizerSlots: string[] }) | null {
  const file = path.join(dir, 'state.json');
  return fs.existsSync(file) ? readJson(file) : null;
}

export function isOptimizerSlot(name: string): boolean {
  return name.startsWith('__optimizer__/');
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { EpochMetrics, RunConfig, RunStatus } from '../api';
import { CxrError } from '../errors';
import { validateRunConfig } from '../numbers';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { faultPoint } from '../util/faults';
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
const WEIGHT_FILES = ['weights_manifest.json', 'weights.bin', 'frozen.bin', 'state.json'];
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
/** The frozen layers' weights, beside the trained ones: training never changes them, so they are written once. */
const FROZEN_SHARD = 'frozen.bin';

type ManifestGroup = { paths: string[]; weights: { shape: number[]; dtype: string }[] };

/**
 * Whether a model/ or checkpoint/ folder (or a swap sibling) was written in full: a manifest whose every group's
 * shards hold the bytes it describes, and the trainer's state when asked.
 */
export function isCompleteWeightsDir(dir: string, needsState: boolean): boolean {
  try {
    const manifest = readJson<ManifestGroup[]>(path.join(dir, MANIFEST));
    if (!Array.isArray(manifest) || manifest.length === 0) return false;
    for (const group of manifest) {
      const expected = group.weights.reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
      const stored = group.paths.reduce((n, shard) => n + fs.statSync(path.join(dir, shard)).size, 0);
      if (stored !== expected) return false;
    }
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

/** The whole model in one shard (a model that was not trained here, e.g. in tests and tools). */
export async function saveModel(dir: string, model: tfl.LayersModel): Promise<void> {
  await saveNamedTensors(dir, modelWeightMap(model));
}

/**
 * The weight folders (model/, checkpoint/) of one training. Each is a TF.js weights manifest of two groups: the
 * trained layers' weights (and a checkpoint's optimizer slots) in weights.bin, rewritten at every save, and the
 * frozen layers' in frozen.bin. Training never changes the frozen layers, so frozen.bin is written (and fsync'd)
 * once per training, and every later save hard-links the copy already written; so is a manifest that reads the same
 * as the last one this writer wrote. Each folder stays complete on its own (any TF.js reader loads it; deleting one
 * folder leaves the other whole), and a crash at any step leaves what replaceDirAtomic leaves.
 */
export class TrainingWeightsWriter {
  private frozenBytes: { data: Uint8Array; specs: tf.io.WeightsManifestEntry[] } | null = null;
  /** Files this writer wrote (or linked), by what they hold: a later save links them instead of writing again. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly model: tfl.LayersModel,
    /** Names of the layers training never changes (the frozen part, up to the cut). */
    private readonly frozenLayers: ReadonlySet<string>,
  ) {}

  async saveModel(dir: string): Promise<void> {
    await this.save(dir, {});
  }

  /** A checkpoint: the model, the optimizer's slots (in variable order) and the trainer's counters. */
  async saveCheckpoint(dir: string, optimizerWeights: NamedTensor[], state: TrainerState): Promise<void> {
    const slots: tf.NamedTensorMap = {};
    optimizerWeights.forEach((w, i) => {
      slots[`__optimizer__/${String(i).padStart(4, '0')}`] = w.tensor;
    });
    await this.save(dir, slots, { ...state, optimizerSlots: optimizerWeights.map((w) => w.name) });
  }

  private async save(dir: string, extraTensors: tf.NamedTensorMap, state?: Record<string, unknown>): Promise<void> {
    const trained: tf.NamedTensorMap = {};
    const frozen: tf.NamedTensorMap = {};
    for (const layer of this.model.layers) {
      const into = this.frozenLayers.has(layer.name) ? frozen : trained;
      for (const w of layer.weights) into[w.originalName] = w.read();
    }
    const { data, specs } = await tf.io.encodeWeights({ ...trained, ...extraTensors });
    if (!this.frozenBytes && Object.keys(frozen).length > 0) {
      const encoded = await tf.io.encodeWeights(frozen);
      this.frozenBytes = { data: new Uint8Array(encoded.data), specs: encoded.specs };
    }
    const frozenPart = this.frozenBytes;
    const manifest: ManifestGroup[] = [{ paths: [SHARD], weights: specs }];
    if (frozenPart) manifest.push({ paths: [FROZEN_SHARD], weights: frozenPart.specs });
    const manifestText = JSON.stringify(manifest, null, 2) + '\n';
    const kept: [string, string][] = [];
    replaceDirAtomic(dir, (tmp) => {
      writeFileAtomic(path.join(tmp, SHARD), new Uint8Array(data));
      if (frozenPart) kept.push([FROZEN_SHARD, this.writeOrLink(tmp, FROZEN_SHARD, frozenPart.data, 'frozen layers')]);
      kept.push([MANIFEST, this.writeOrLink(tmp, MANIFEST, manifestText, `manifest ${manifestText}`)]);
      if (state) writeJsonAtomic(path.join(tmp, 'state.json'), state);
    });
    for (const [name, content] of kept) {
      const file = path.join(dir, name);
      // That path now holds `content` only: another content recorded for it was replaced with the folder.
      for (const [other, at] of this.written) if (at === file) this.written.delete(other);
      this.written.set(content, file);
    }
  }

  /**
   * Links `name` into `tmp` from the file of the same `content` this writer wrote before, else writes it. Returns
   * the content key. A file system without hard links (or a failing disk) gets the bytes written, which reports a
   * real failure.
   */
  private writeOrLink(tmp: string, name: string, bytes: Uint8Array | string, content: string): string {
    const target = path.join(tmp, name);
    const source = this.written.get(content);
    const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
    if (source !== undefined && fs.statSync(source, { throwIfNoEntry: false })?.size === size) {
      faultPoint(`link ${target}`);
      try {
        fs.linkSync(source, target);
        return content;
      } catch {
        // written below
      }
    }
    writeFileAtomic(target, bytes);
    return content;
  }
}

export function readCheckpointState(dir: string): (TrainerState & { optimizerSlots: string[] }) | null {
  const file = path.join(dir, 'state.json');
  return fs.existsSync(file) ? readJson(file) : null;
}

export function isOptimizerSlot(name: string): boolean {
  return name.startsWith('__optimizer__/');
}

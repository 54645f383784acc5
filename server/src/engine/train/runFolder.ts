import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { EpochMetrics, RunConfig, RunStatus } from '../api';
import { CxrError } from '../errors';
import { readJson, replaceDirAtomic, writeFileAtomic, writeJsonAtomic } from '../util/atomic';

/** The files of one run folder. Everything a run needs to be evaluated, explained or resumed lives here. */
export class RunFolder {
  constructor(readonly dir: string) {}

  get configFile(): string { return path.join(this.dir, 'config.json'); }
  get classesFile(): string { return path.join(this.dir, 'classes.json'); }
  get statusFile(): string { return path.join(this.dir, 'status.json'); }
  get historyFile(): string { return path.join(this.dir, 'history.json'); }
  get modelDir(): string { return path.join(this.dir, 'model'); }
  get checkpointDir(): string { return path.join(this.dir, 'checkpoint'); }
  get evaluationRoot(): string { return path.join(this.dir, 'evaluation'); }
  /** The dataset audit taken before training (AuditResult). */
  get auditFile(): string { return path.join(this.dir, 'audit.json'); }

  exists(): boolean {
    return fs.existsSync(this.configFile);
  }

  hasModel(): boolean {
    return fs.existsSync(path.join(this.modelDir, 'weights_manifest.json'));
  }

  readConfig(): RunConfig {
    if (!fs.existsSync(this.configFile)) {
      throw new CxrError('RUN_INVALID', `${this.dir} is not a CXR Studio run folder (no config.json). Train one with 'cxr train'.`);
    }
    return readJson<RunConfig>(this.configFile);
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

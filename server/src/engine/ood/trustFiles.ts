import * as fs from 'node:fs';
import type { CalibrationReport } from '../api';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { RunFolder } from '../train/runFolder';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import type { FeatureDistanceModel } from './featureDistance';

/** What a run folder keeps to judge new inputs and calibrate its confidence (written after training). */
export interface CalibrationFile {
  version: 1;
  temperature: number;
  /** Default abstain threshold on the calibrated top probability: below it a prediction is "uncertain". */
  abstainBelow: number;
  valBefore: CalibrationReport;
  valAfter: CalibrationReport;
}

interface OodFile {
  version: 1;
  method: 'knn-cosine';
  dims: number;
  n: number;
  k: number;
  threshold: number;
  valDistances: number[];
}


export function writeOodModel(runDir: string, model: FeatureDistanceModel, paths: PathPolicy = UNRESTRICTED): void {
  const run = new RunFolder(runDir, paths);
  writeFileAtomic(run.oodFeaturesFile, new Uint8Array(model.train.buffer, model.train.byteOffset, model.train.byteLength));
  const meta: OodFile = { version: 1, method: 'knn-cosine', dims: model.dims, n: model.n, k: model.k, threshold: model.threshold, valDistances: model.valDistances };
  writeJsonAtomic(run.oodFile, meta);
}

export function readOodModel(runDir: string, paths: PathPolicy = UNRESTRICTED): FeatureDistanceModel | null {
  const run = new RunFolder(runDir, paths);
  if (!fs.existsSync(run.oodFile) || !fs.existsSync(run.oodFeaturesFile)) return null;
  const meta = readJson<OodFile>(run.oodFile);
  const bytes = fs.readFileSync(run.oodFeaturesFile);
  const train = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (train.length !== meta.n * meta.dims) return null;
  return { dims: meta.dims, n: meta.n, k: meta.k, threshold: meta.threshold, valDistances: meta.valDistances, train };
}

export function writeCalibration(runDir: string, calibration: CalibrationFile, paths: PathPolicy = UNRESTRICTED): void {
  writeJsonAtomic(new RunFolder(runDir, paths).calibrationFile, calibration);
}

export function readCalibration(runDir: string, paths: PathPolicy = UNRESTRICTED): CalibrationFile | null {
  const file = new RunFolder(runDir, paths).calibrationFile;
  return fs.existsSync(file) ? readJson<CalibrationFile>(file) : null;
}

import * as fs from 'node:fs';
import type { OodVerdict, PredictionStatus } from '../api';
import { applyTemperature } from '../calibration/temperature';
import { probabilitiesRecord } from '../inference/runModel';
import type { PathPolicy } from '../security/pathPolicy';
import { RunFolder } from '../train/runFolder';
import type { ChestCheck } from './chestCheck';
import { DEFAULT_ABSTAIN_BELOW } from './fitTrustModels';
import { readCalibration, readOodModel } from './trustFiles';
import { oodVerdict, predictionStatus } from './verdict';

/** What a single explained image carries besides its maps: the refusal check and the calibrated confidence. */
export interface TrustFields {
  ood: OodVerdict;
  status: PredictionStatus;
  calibratedProbabilities: Record<string, number>;
  /** The abstain threshold the status was judged with. */
  abstainBelow: number;
}

type TrustModels = { ood: ReturnType<typeof readOodModel>; calibration: ReturnType<typeof readCalibration> };

/** The run's OOD model and temperature, reread only when their files change (the heatmap viewer explains often). */
const cache = new Map<string, { key: string; models: TrustModels }>();

export function readTrustModels(runDir: string, paths: PathPolicy): TrustModels {
  const run = new RunFolder(runDir, paths);
  const key = [run.oodFile, run.oodFeaturesFile, run.calibrationFile].map((f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 'none').join('|');
  const hit = cache.get(runDir);
  if (hit && hit.key === key) return hit.models;
  const models = { ood: readOodModel(runDir, paths), calibration: readCalibration(runDir, paths) };
  cache.clear(); // one active model at a time
  cache.set(runDir, { key, models });
  return models;
}

/** The verdict a prediction gets (as `cxr predict` gives it) from the chest check, the pooled features and the raw probabilities. */
export function trustFields(classes: readonly string[], probs: readonly number[], check: ChestCheck, pooled: Float32Array, models: TrustModels): TrustFields {
  const calibrated = models.calibration ? applyTemperature(probs, models.calibration.temperature) : [...probs];
  const ood = oodVerdict(check, pooled, models.ood);
  const abstainBelow = models.calibration?.abstainBelow ?? DEFAULT_ABSTAIN_BELOW;
  return {
    ood,
    status: predictionStatus(ood, Math.max(...calibrated), abstainBelow, false),
    calibratedProbabilities: probabilitiesRecord(classes, calibrated),
    abstainBelow,
  };
}

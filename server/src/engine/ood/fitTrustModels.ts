import { fitTemperature, applyTemperature } from '../calibration/temperature';
import { reliability } from '../calibration/reliability';
import { loadDataset, type DatasetItem } from '../data/dataset';
import { splitTrainVal } from '../data/split';
import type { LoadedRun } from '../inference/runModel';
import type { PathPolicy } from '../security/pathPolicy';
import { classifyWithFeatures } from './classifyWithFeatures';
import { fitFeatureDistance, type FeatureDistanceModel } from './featureDistance';
import { writeCalibration, writeOodModel, type CalibrationFile } from './trustFiles';

/** Default abstain threshold on the calibrated top probability (user-settable per request and on the CLI). */
export const DEFAULT_ABSTAIN_BELOW = 0.6;

/**
 * After training: one pass over the train and validation splits fits the out-of-distribution model (training
 * features, threshold from validation) and the temperature (validation NLL), and saves both in the run folder.
 */
export async function fitTrustModels(
  loaded: LoadedRun,
  opts: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; paths?: PathPolicy } = {},
): Promise<{ ood: FeatureDistanceModel; calibration: CalibrationFile }> {
  const { config } = loaded;
  const dataset = await loadDataset(config.data, opts.paths);
  const split = splitTrainVal(dataset.items.filter((i) => i.split !== 'test'), { valFraction: config.valFraction, seed: config.seed });
  const items: DatasetItem[] = [...split.train, ...split.val];
  const scored = await classifyWithFeatures(loaded, items.map((i) => i.path), { ...opts, skipUnreadable: true });
  const train = scored.slice(0, split.train.length);
  const val = scored.slice(split.train.length).map((s, i) => (s ? { s, label: config.classes.indexOf(split.val[i].label) } : null)).filter((v) => v !== null && v.label >= 0) as {
    s: NonNullable<(typeof scored)[number]>;
    label: number;
  }[];
  const ood = fitFeatureDistance(
    train.flatMap((s) => (s ? [s.features] : [])),
    val.map((v) => v.s.features),
  );
  const valProbs = val.map((v) => v.s.probs);
  const valLabels = val.map((v) => v.label);
  const temperature = fitTemperature(valProbs, valLabels);
  const calibration: CalibrationFile = {
    version: 1,
    temperature,
    abstainBelow: DEFAULT_ABSTAIN_BELOW,
    valBefore: reliability(valProbs, valLabels),
    valAfter: reliability(valProbs.map((p) => applyTemperature(p, temperature)), valLabels),
  };
  writeOodModel(loaded.runDir, ood, opts.paths);
  writeCalibration(loaded.runDir, calibration, opts.paths);
  return { ood, calibration };
}

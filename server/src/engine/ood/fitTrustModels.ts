import { fitTemperature, applyTemperature } from '../calibration/temperature';
import { reliability } from '../calibration/reliability';
import { loadDataset, type DatasetItem } from '../data/dataset';
import { splitTrainVal } from '../data/split';
import type { LoadedRun } from '../inference/runModel';
import type { PathPolicy } from '../security/pathPolicy';
import type { RunSession } from '../inference/runSession';
import { classifyWithFeatures } from './classifyWithFeatures';
import { denseSoftmaxOf, softmaxOfPooled } from './pooledFeatures';
import { evenlySpaced, fitFeatureDistance, MAX_REFERENCE_IMAGES, type FeatureDistanceModel } from './featureDistance';
import { writeCalibration, writeOodModel, type CalibrationFile } from './trustFiles';

/** Default abstain threshold on the calibrated top probability (user-settable per request and on the CLI). */
export const DEFAULT_ABSTAIN_BELOW = 0.6;

export interface TrustFitOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  paths?: PathPolicy;
  /** Pooled features already known for a file (the feature cache training filled): those images are not decoded. */
  stored?: (file: string) => Promise<Float32Array | null>;
  /** The run's warm session, opened only if some image must be run through the model. */
  session?: () => Promise<RunSession>;
}

/**
 * After training: the train and validation splits fit the out-of-distribution model (training features, threshold
 * from validation) and the temperature (validation NLL), saved in the run folder. Pooled features the training
 * stored are reused with the head's Dense layer; the other images take one pass of the model.
 */
export async function fitTrustModels(loaded: LoadedRun, opts: TrustFitOptions = {}): Promise<{ ood: FeatureDistanceModel; calibration: CalibrationFile }> {
  const { config } = loaded;
  const dataset = await loadDataset(config.data, opts.paths);
  const split = splitTrainVal(dataset.items.filter((i) => i.split !== 'test'), { valFraction: config.valFraction, seed: config.seed });
  // Only the training images the OOD model keeps as references are scored (all of them up to MAX_REFERENCE_IMAGES).
  const references = evenlySpaced(split.train.length, MAX_REFERENCE_IMAGES).map((i) => split.train[i]);
  const items: DatasetItem[] = [...references, ...split.val];
  const scored = await scoreItems(loaded, items.map((i) => i.path), opts);
  const train = scored.slice(0, references.length);
  const val = scored.slice(references.length).map((s, i) => (s ? { s, label: config.classes.indexOf(split.val[i].label) } : null)).filter((v) => v !== null && v.label >= 0) as {
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

type Scored = { probs: number[]; features: Float32Array } | null;

async function scoreItems(loaded: LoadedRun, files: string[], opts: TrustFitOptions): Promise<Scored[]> {
  const scored: Scored[] = new Array(files.length).fill(null);
  const missing: number[] = [];
  const head = opts.stored ? await denseSoftmaxOf(loaded.model) : null;
  for (let i = 0; i < files.length; i++) {
    const features = head ? await opts.stored!(files[i]) : null;
    if (features) scored[i] = { probs: softmaxOfPooled(head!, features), features };
    else missing.push(i);
  }
  if (missing.length > 0) {
    const session = opts.session ? await opts.session() : undefined;
    const passed = await classifyWithFeatures(loaded, missing.map((i) => files[i]), { ...opts, session, skipUnreadable: true });
    missing.forEach((i, k) => (scored[i] = passed[k]));
  }
  opts.onProgress?.(files.length, files.length);
  return scored;
}

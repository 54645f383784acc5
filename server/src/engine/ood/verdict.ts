import type { OodVerdict, PredictionStatus } from '../api';
import type { ChestCheck } from './chestCheck';
import { knnDistance, type FeatureDistanceModel } from './featureDistance';

export function oodVerdict(check: ChestCheck, features: Float32Array, model: FeatureDistanceModel | null): OodVerdict {
  const featureDistance = model ? knnDistance(model, features) : null;
  const distanceScore = model && featureDistance !== null ? featureDistance / model.threshold : null;
  const notChestRadiograph = check.reason !== null;
  let reason = check.reason;
  if (!reason && distanceScore !== null && distanceScore > 1) {
    reason =
      `Unlike the training images: its features are ${distanceScore.toFixed(2)}x farther from the nearest training images than the 99th percentile of validation and training images ` +
      '(another source, scanner, view or population?).';
  }
  return {
    flagged: reason !== null,
    reason,
    score: Number((distanceScore ?? check.colourScore).toFixed(4)),
    notChestRadiograph,
    featureDistance: featureDistance === null ? null : Number(featureDistance.toFixed(5)),
  };
}

export function predictionStatus(ood: OodVerdict, calibratedTop: number, abstainBelow: number, ignoreOod: boolean): PredictionStatus {
  if (ood.flagged && !ignoreOod) return 'refused';
  return calibratedTop < abstainBelow ? 'uncertain' : 'confident';
}

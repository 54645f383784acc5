import type { Interval } from '../api';
import { wilsonInterval } from '../eval/intervals';
import type { ImageProbe } from './imageProbe';
import { crossValidatedPredictions, NEAREST_CENTROID } from './logisticRegression';

/**
 * The source-confound probe: can the class be predicted from how an image was acquired and stored, with no look at
 * the anatomy? Features are file and acquisition properties plus global intensity, border and text-like statistics.
 * A cross-validated logistic regression on them is compared with always guessing the largest class.
 */
export const ACQUISITION_FEATURES = [
  'log width',
  'log height',
  'aspect ratio',
  '16-bit',
  'stored as colour',
  'JPEG',
  'PNG',
  'DICOM',
  'other format',
  'bytes per pixel',
  'colourfulness',
  'mean intensity',
  'intensity spread',
  'dark level (5th pct)',
  'median intensity',
  'bright level (95th pct)',
  'border mean',
  'border spread',
  'centre minus border',
  'near-white share (text, markers)',
  'near-black share (padding)',
  'text-like marks in the border',
] as const;

export function acquisitionFeatures(p: ImageProbe): number[] {
  const s = p.stats;
  const { width, height, format, bitDepth, channels } = p.source;
  return [
    Math.log(width),
    Math.log(height),
    width / height,
    bitDepth === 16 ? 1 : 0,
    channels >= 3 ? 1 : 0,
    format === 'jpeg' ? 1 : 0,
    format === 'png' ? 1 : 0,
    format === 'dicom' ? 1 : 0,
    ['jpeg', 'png', 'dicom'].includes(format) ? 0 : 1,
    p.fileBytes / (width * height),
    p.colourfulness,
    s.mean,
    s.std,
    s.p05,
    s.p50,
    s.p95,
    s.borderMean,
    s.borderStd,
    s.centreMinusBorder,
    s.whiteShare,
    s.blackShare,
    s.borderTextLike,
  ];
}

export interface ConfoundProbeResult {
  n: number;
  folds: number;
  correct: number;
  accuracy: number;
  accuracyCi: Interval;
  /** Accuracy of always answering the largest class. */
  majorityRate: number;
  chanceRate: number;
  /** The features that alone predict the class best (nearest class mean, cross-validated), with that accuracy. */
  strongestFeatures: { feature: string; accuracy: number }[];
}

export const PROBE_FOLDS = 5;

export function sourceConfoundProbe(probes: readonly ImageProbe[], labels: readonly number[], classes: number, seed = 42): ConfoundProbeResult {
  const x = probes.map(acquisitionFeatures);
  const y = [...labels];
  const folds = Math.max(2, Math.min(PROBE_FOLDS, smallestClass(y, classes)));
  const predicted = crossValidatedPredictions(x, y, classes, folds, seed);
  const correct = predicted.filter((p, i) => p === y[i]).length;
  const counts = Array.from({ length: classes }, (_, c) => y.filter((v) => v === c).length);
  const strongestFeatures = ACQUISITION_FEATURES.map((feature, j) => {
    const column = x.map((row) => [row[j]]);
    if (column.every((v) => v[0] === column[0][0])) return { feature, accuracy: 0 };
    const single = crossValidatedPredictions(column, y, classes, folds, seed, NEAREST_CENTROID);
    return { feature, accuracy: single.filter((p, i) => p === y[i]).length / y.length };
  })
    .sort((a, b) => b.accuracy - a.accuracy)
    .slice(0, 3);
  return {
    n: y.length,
    folds,
    correct,
    accuracy: correct / y.length,
    accuracyCi: wilsonInterval(correct, y.length),
    majorityRate: Math.max(...counts) / y.length,
    chanceRate: 1 / classes,
    strongestFeatures,
  };
}

function smallestClass(y: number[], classes: number): number {
  let min = Infinity;
  for (let c = 0; c < classes; c++) {
    const n = y.filter((v) => v === c).length;
    if (n > 0) min = Math.min(min, n);
  }
  return min;
}

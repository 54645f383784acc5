/**
 * One-vs-rest ROC and precision-recall curves, and the counts at any threshold, from per-image class probabilities.
 * "Positive" means the class's probability is >= the threshold. Pure functions (no Node APIs): the evaluation webview
 * uses the same code for its threshold control, so what it shows is what evaluation.json holds.
 */
import type { ClassCurve, CurvePoint, Interval } from '../api';
import { CxrError } from '../errors';
import { wilsonInterval } from './intervals';

/**
 * The operating points of "positive when score >= threshold", one per distinct score, highest threshold first.
 * Tied scores form one point: a threshold cannot separate them (scikit-learn's roc_curve without drop_intermediate).
 */
export function operatingPoints(scores: number[], positives: boolean[]): CurvePoint[] {
  if (scores.length !== positives.length) {
    throw new CxrError('INVALID_ARGUMENT', `Curves need one label per score; got ${scores.length} scores and ${positives.length} labels.`);
  }
  if (scores.some((s) => !Number.isFinite(s))) throw new CxrError('INVALID_ARGUMENT', 'Curve scores must be finite numbers; check the model outputs.');
  const order = scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i]);
  const points: CurvePoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    if (positives[i]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[i]) points.push({ threshold: scores[i], tp, fp });
  }
  return points;
}

/** ROC points (false positive rate, true positive rate) from (0, 0) to (1, 1); empty when a side has no images. */
export function rocPoints(curve: Pick<ClassCurve, 'points' | 'positives' | 'negatives'>): { fpr: number; tpr: number }[] {
  if (curve.positives === 0 || curve.negatives === 0) return [];
  return [{ fpr: 0, tpr: 0 }, ...curve.points.map((p) => ({ fpr: p.fp / curve.negatives, tpr: p.tp / curve.positives }))];
}

/**
 * Precision-recall points, recall rising, starting at (recall 0, precision 1) as scikit-learn's curve ends. Drawn as
 * a step that takes each point's precision over the recall interval it closes, its area is the average precision.
 */
export function prPoints(curve: Pick<ClassCurve, 'points' | 'positives'>): { recall: number; precision: number }[] {
  if (curve.positives === 0) return [];
  return [{ recall: 0, precision: 1 }, ...curve.points.map((p) => ({ recall: p.tp / curve.positives, precision: p.tp / (p.tp + p.fp) }))];
}

/** Area under the ROC points by the trapezoid rule (equal to the Mann-Whitney statistic, ties counting one half). */
export function areaUnderRoc(points: { fpr: number; tpr: number }[]): number | null {
  if (points.length < 2) return null;
  let area = 0;
  for (let k = 1; k < points.length; k++) area += ((points[k].fpr - points[k - 1].fpr) * (points[k].tpr + points[k - 1].tpr)) / 2;
  return area;
}

/** Average precision as scikit-learn defines it: sum over points of (recall gained) x precision. No interpolation. */
export function averagePrecision(points: { recall: number; precision: number }[]): number | null {
  if (points.length < 2) return null;
  let ap = 0;
  for (let k = 1; k < points.length; k++) ap += (points[k].recall - points[k - 1].recall) * points[k].precision;
  return ap;
}

/** Every class's one-vs-rest curves from true class indices and per-image probabilities (rows in class order). */
export function classCurves(yTrue: number[], probs: number[][], classes: string[]): ClassCurve[] {
  if (yTrue.length !== probs.length) {
    throw new CxrError('INVALID_ARGUMENT', `Got ${yTrue.length} labels but ${probs.length} probability rows; they must match one to one.`);
  }
  return classes.map((className, c) => {
    const positivesMask = yTrue.map((t) => t === c);
    const positives = positivesMask.filter(Boolean).length;
    const curve = { className, positives, negatives: yTrue.length - positives, points: operatingPoints(probs.map((row) => row[c]), positivesMask) };
    return { ...curve, auc: areaUnderRoc(rocPoints(curve)), averagePrecision: averagePrecision(prPoints(curve)) };
  });
}

/** The curves of a saved evaluation, rebuilt from its predictions (evaluations saved before curves existed). */
export function curvesFromPredictions(
  classes: string[],
  predictions: { trueLabel: string; probabilities: Record<string, number> }[],
): ClassCurve[] {
  const yTrue = predictions.map((p) => classes.indexOf(p.trueLabel));
  const kept = yTrue.map((t, i) => (t >= 0 ? i : -1)).filter((i) => i >= 0);
  return classCurves(
    kept.map((i) => yTrue[i]),
    kept.map((i) => classes.map((c) => predictions[i].probabilities[c] ?? 0)),
    classes,
  );
}

export interface OperatingPoint {
  threshold: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / positives; null without positives. */
  sensitivity: number | null;
  sensitivityCi: Interval;
  /** tn / negatives; null without negatives. */
  specificity: number | null;
  specificityCi: Interval;
  /** tp / (tp + fp); null when nothing is called positive. */
  ppv: number | null;
  /** tn / (tn + fn); null when nothing is called negative. */
  npv: number | null;
}

/** Counts, sensitivity and specificity (with Wilson intervals) when the class is called at probability >= threshold. */
export function operatingPointAt(curve: Pick<ClassCurve, 'points' | 'positives' | 'negatives'>, threshold: number, level = 0.95): OperatingPoint {
  if (!Number.isFinite(threshold)) throw new CxrError('INVALID_ARGUMENT', `The threshold must be a number; got ${threshold}.`);
  let tp = 0;
  let fp = 0;
  // Points run from the highest threshold down; the last one still >= threshold holds the counts.
  for (const p of curve.points) {
    if (p.threshold < threshold) break;
    tp = p.tp;
    fp = p.fp;
  }
  const fn = curve.positives - tp;
  const tn = curve.negatives - fp;
  return {
    threshold,
    tp,
    fp,
    fn,
    tn,
    sensitivity: curve.positives > 0 ? tp / curve.positives : null,
    sensitivityCi: wilsonInterval(tp, curve.positives, level),
    specificity: curve.negatives > 0 ? tn / curve.negatives : null,
    specificityCi: wilsonInterval(tn, curve.negatives, level),
    ppv: tp + fp > 0 ? tp / (tp + fp) : null,
    npv: tn + fn > 0 ? tn / (tn + fn) : null,
  };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  areaUnderRoc,
  averagePrecision,
  classCurves,
  computeMetrics,
  operatingPointAt,
  operatingPoints,
  prPoints,
  renderEvaluationMarkdown,
  rocAucOneVsRest,
  rocPoints,
  wilsonInterval,
} from '../../server/src/engine/eval';
import { bootstrapMacroF1Auc } from '../../server/src/engine/eval/bootstrap';
import { curvesFromPredictions } from '../../server/src/engine/eval/curves';
import { readEvaluation } from '../../server/src/engine/runStore';
import type { EvaluateResult } from '../../server/src/engine/api';
import { CxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';

const close = (actual: number | null, expected: number, tol = 1e-12, what = '') =>
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);

function curveOf(scores: number[], labels: number[]) {
  const positives = labels.filter((l) => l === 1).length;
  return { points: operatingPoints(scores, labels.map((l) => l === 1)), positives, negatives: labels.length - positives };
}

test('ROC and PR of six distinct scores: points, AUC 8/9 and average precision 11/12 by hand', () => {
  // Positives score 0.9, 0.8, 0.6; negatives 0.7, 0.55, 0.5. Pairs a positive wins: 3 + 3 + 2 = 8 of 9.
  const c = curveOf([0.9, 0.8, 0.7, 0.6, 0.55, 0.5], [1, 1, 0, 1, 0, 0]);
  assert.deepEqual(c.points.map((p) => [p.threshold, p.tp, p.fp]), [[0.9, 1, 0], [0.8, 2, 0], [0.7, 2, 1], [0.6, 3, 1], [0.55, 3, 2], [0.5, 3, 3]]);
  assert.deepEqual(rocPoints(c), [
    { fpr: 0, tpr: 0 }, { fpr: 0, tpr: 1 / 3 }, { fpr: 0, tpr: 2 / 3 }, { fpr: 1 / 3, tpr: 2 / 3 }, { fpr: 1 / 3, tpr: 1 }, { fpr: 2 / 3, tpr: 1 }, { fpr: 1, tpr: 1 },
  ]);
  close(areaUnderRoc(rocPoints(c)), 8 / 9);
  // Precision at each point: 1, 1, 2/3, 3/4, 3/5, 1/2; recall gains 1/3 at 0.9, 0.8 and 0.6: AP = 1/3 + 1/3 + 1/4.
  assert.deepEqual(prPoints(c).map((p) => [p.recall, p.precision]), [[0, 1], [1 / 3, 1], [2 / 3, 1], [2 / 3, 2 / 3], [1, 3 / 4], [1, 3 / 5], [1, 1 / 2]]);
  close(averagePrecision(prPoints(c)), 11 / 12);
});

test('ties form one point: a tied positive and negative add half a square to the AUC', () => {
  // Positives {0.8, 0.4}, negatives {0.4, 0.1}: 0.4 = 0.4 counts one half, so AUC = 3.5 / 4.
  const c = curveOf([0.8, 0.4, 0.4, 0.1], [1, 1, 0, 0]);
  assert.deepEqual(c.points, [{ threshold: 0.8, tp: 1, fp: 0 }, { threshold: 0.4, tp: 2, fp: 1 }, { threshold: 0.1, tp: 2, fp: 2 }]);
  assert.deepEqual(rocPoints(c), [{ fpr: 0, tpr: 0 }, { fpr: 0, tpr: 0.5 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 }]);
  close(areaUnderRoc(rocPoints(c)), 0.875);
  close(averagePrecision(prPoints(c)), 0.5 * 1 + 0.5 * (2 / 3)); // scikit-learn: 0.8333
  // Every score tied: one point, the chance diagonal, precision = prevalence.
  const flat = curveOf([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]);
  assert.deepEqual(rocPoints(flat), [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }]);
  close(areaUnderRoc(rocPoints(flat)), 0.5);
  close(averagePrecision(prPoints(flat)), 0.5);
});

test('undefined without positives or negatives; bad input is a CxrError', () => {
  const noNeg = curveOf([0.9, 0.2], [1, 1]);
  assert.deepEqual(rocPoints(noNeg), []);
  assert.equal(areaUnderRoc(rocPoints(noNeg)), null);
  close(averagePrecision(prPoints(noNeg)), 1);
  const noPos = curveOf([0.9, 0.2], [0, 0]);
  assert.equal(areaUnderRoc(rocPoints(noPos)), null);
  assert.equal(averagePrecision(prPoints(noPos)), null);
  assert.throws(() => operatingPoints([0.1], [true, false]), CxrError);
  assert.throws(() => operatingPoints([Number.NaN], [true]), CxrError);
  assert.throws(() => operatingPointAt(noNeg, Number.NaN), CxrError);
});

test('independent checks on 300 random problems with ties: AUC = Mann-Whitney = pair counting, AP = mean precision at the positives', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 2 + rng.int(40);
    // Scores rounded to tenths, so ties are frequent.
    const scores = Array.from({ length: n }, () => Math.round(rng.next() * 10) / 10);
    const labels = Array.from({ length: n }, () => (rng.next() < 0.4 ? 1 : 0));
    const c = curveOf(scores, labels);
    const pos = scores.filter((_, i) => labels[i] === 1);
    const neg = scores.filter((_, i) => labels[i] === 0);
    const auc = areaUnderRoc(rocPoints(c));
    if (pos.length === 0 || neg.length === 0) {
      assert.equal(auc, null);
    } else {
      let wins = 0;
      for (const p of pos) for (const q of neg) wins += p > q ? 1 : p === q ? 0.5 : 0;
      close(auc, wins / (pos.length * neg.length), 1e-12, `trial ${trial} pairs`);
      close(auc, rocAucOneVsRest(scores, labels.map((l) => l === 1))!, 1e-12, `trial ${trial} Mann-Whitney`);
    }
    if (pos.length > 0) {
      // Average precision = mean over positives of the precision at their own score (ties included).
      const precisionAt = (t: number) => scores.filter((s, i) => s >= t && labels[i] === 1).length / scores.filter((s) => s >= t).length;
      close(averagePrecision(prPoints(c)), pos.reduce((a, s) => a + precisionAt(s), 0) / pos.length, 1e-12, `trial ${trial} AP`);
    }
    // The counts at any threshold equal counting the images directly.
    for (const t of [0, 0.05, 0.3, 0.5, 0.55, 1, 1.5, rng.next()]) {
      const op = operatingPointAt(c, t);
      const tp = scores.filter((s, i) => s >= t && labels[i] === 1).length;
      const fp = scores.filter((s, i) => s >= t && labels[i] === 0).length;
      assert.deepEqual([op.tp, op.fp, op.fn, op.tn], [tp, fp, pos.length - tp, neg.length - fp], `trial ${trial} t=${t}`);
    }
  }
});

test('threshold: positive at probability >= threshold, sensitivity and specificity with Wilson intervals', () => {
  const c = curveOf([0.9, 0.8, 0.7, 0.6, 0.55, 0.5], [1, 1, 0, 1, 0, 0]);
  const at = operatingPointAt(c, 0.7); // 0.9, 0.8 (positives) and 0.7 (negative) called positive
  assert.deepEqual([at.tp, at.fp, at.fn, at.tn], [2, 1, 1, 2]);
  close(at.sensitivity, 2 / 3);
  close(at.specificity, 2 / 3);
  assert.deepEqual(at.sensitivityCi, wilsonInterval(2, 3));
  assert.deepEqual(at.specificityCi, wilsonInterval(2, 3));
  close(at.ppv, 2 / 3);
  close(at.npv, 2 / 3);
  const above = operatingPointAt(c, 0.7000001);
  assert.deepEqual([above.tp, above.fp], [2, 0]);
  const everything = operatingPointAt(c, 0);
  assert.deepEqual([everything.tp, everything.fp, everything.tn, everything.specificity], [3, 3, 0, 0]);
  const nothing = operatingPointAt(c, 1.01);
  assert.deepEqual([nothing.tp, nothing.fp, nothing.sensitivity, nothing.specificity, nothing.ppv], [0, 0, 0, 1, null]);
  assert.deepEqual(nothing.specificityCi, wilsonInterval(3, 3));
});

// The three-class example of metrics.test.ts (rows in class order a, b, c).
const Y = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2];
const P = [
  [0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.3, 0.2, 0.5],
  [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7],
];

test('per-class curves of a three-class evaluation: AUCs equal the classification report, counts add up', () => {
  const curves = classCurves(Y, P, ['a', 'b', 'c']);
  const m = computeMetrics(Y, P, ['a', 'b', 'c']);
  assert.deepEqual(curves.map((c) => [c.className, c.positives, c.negatives]), [['a', 5, 5], ['b', 3, 7], ['c', 2, 8]]);
  curves.forEach((c, k) => {
    close(c.auc, m.per_class[k].auc!, 1e-12, c.className);
    const last = c.points[c.points.length - 1];
    assert.deepEqual([last.tp, last.fp], [c.positives, c.negatives], 'the lowest threshold calls every image positive');
    assert.ok(c.points.every((p, i) => i === 0 || p.threshold < c.points[i - 1].threshold), 'thresholds strictly fall');
  });
  // Class c is separated perfectly; its PR curve is precision 1 up to recall 1.
  assert.equal(curves[2].auc, 1);
  assert.equal(curves[2].averagePrecision, 1);
  // Saved predictions rebuild the same curves.
  const predictions = Y.map((t, i) => ({ trueLabel: ['a', 'b', 'c'][t], probabilities: { a: P[i][0], b: P[i][1], c: P[i][2] } }));
  assert.deepEqual(curvesFromPredictions(['a', 'b', 'c'], predictions), curves);
});

test('bootstrap gives each class an AUC interval around its AUC; a perfectly separated class gets [1, 1]', () => {
  const b = bootstrapMacroF1Auc(Y, P, ['a', 'b', 'c'], { resamples: 400 });
  const m = computeMetrics(Y, P, ['a', 'b', 'c']);
  assert.equal(b.perClassAuc.length, 3);
  b.perClassAuc.forEach((ci, k) => {
    assert.ok(ci, `class ${k} has an interval`);
    assert.ok(ci.low <= m.per_class[k].auc! && m.per_class[k].auc! <= ci.high, `class ${k}: ${JSON.stringify(ci)} vs ${m.per_class[k].auc}`);
    assert.ok(ci.resamples >= 200 && ci.resamples <= 400);
  });
  assert.deepEqual([b.perClassAuc[2]!.low, b.perClassAuc[2]!.high], [1, 1]);
  assert.ok(b.perClassAuc[0]!.high - b.perClassAuc[0]!.low > 0.1, 'ten images leave a wide interval');
});

test('a saved evaluation without curves gets them from its predictions when read', () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-curves-run-'));
  try {
    fs.writeFileSync(path.join(run, 'config.json'), '{}');
    fs.mkdirSync(path.join(run, 'evaluation', 'test'), { recursive: true });
    const classes = ['a', 'b', 'c'];
    const predictions = Y.map((t, i) => ({ file: `${i}.png`, trueLabel: classes[t], probabilities: { a: P[i][0], b: P[i][1], c: P[i][2] } }));
    const saved = { ...computeMetrics(Y, P, classes), predictions };
    fs.writeFileSync(path.join(run, 'evaluation', 'test', 'evaluation.json'), JSON.stringify(saved));
    const read = readEvaluation(run, 'test');
    assert.deepEqual(read.curves, classCurves(Y, P, classes));
  } finally {
    fs.rmSync(run, { recursive: true, force: true });
  }
});

test('evaluation.md lists each class\'s AUC with its bootstrap interval and its average precision', () => {
  const classes = ['a', 'b', 'c'];
  const bootstrap = bootstrapMacroF1Auc(Y, P, classes, { resamples: 200 });
  const curves = classCurves(Y, P, classes);
  const r: EvaluateResult = { ...computeMetrics(Y, P, classes), run: 'runs/toy', data: '/data/toy', split: 'test', predictions: [], files: { json: 'e.json', markdown: 'e.md' }, bootstrap, curves };
  const md = renderEvaluationMarkdown(r);
  assert.match(md, /\| support \| AUC \[95% bootstrap CI\] \| average precision \|/);
  const ci = bootstrap.perClassAuc[1]!;
  const row = `| b | 0.667 [0.208, 0.939] | 0.667 [0.208, 0.939] | 0.667 | 3 | ${curves[1].auc!.toFixed(3)} [${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}] | ${curves[1].averagePrecision!.toFixed(3)} |`;
  assert.ok(md.includes(row), `${row} not in\n${md}`);
  assert.ok(md.includes('| c | 0.667 [0.208, 0.939] | 1.000 [0.342, 1.000] | 0.800 | 2 | 1.000 [1.000, 1.000] | 1.000 |'), md);
});

/** The bootstrap as its definition reads: resample the images, computeMetrics on each resample. */
function bootstrapByDefinition(yTrue: number[], probs: number[][], classes: string[], resamples: number, seed: number) {
  const rng = new Rng(seed);
  const f1s: number[] = [];
  const aucs: number[] = [];
  const classAucs: number[][] = classes.map(() => []);
  for (let b = 0; b < resamples; b++) {
    const idx = Array.from({ length: yTrue.length }, () => rng.int(yTrue.length));
    const m = computeMetrics(idx.map((i) => yTrue[i]), idx.map((i) => probs[i]), classes);
    f1s.push(m.macro_avg.f1);
    if (m.macro_auc !== null && m.per_class.every((c) => c.support > 0)) aucs.push(m.macro_auc);
    m.per_class.forEach((c, k) => void (c.auc !== null && classAucs[k].push(c.auc)));
  }
  const interval = (values: number[]) => {
    const s = [...values].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.floor(p * s.length)))];
    return { low: q(0.025), high: q(0.975), level: 0.95, method: 'bootstrap-percentile', resamples: values.length };
  };
  const ifDefined = (values: number[]) => (values.length >= resamples / 2 ? interval(values) : null);
  return { macroF1: interval(f1s), macroAuc: ifDefined(aucs), perClassAuc: classAucs.map(ifDefined) };
}

test('the bootstrap from per-image counts gives exactly the intervals of resampling and computeMetrics, ties and rare classes included', () => {
  const rng = new Rng(21);
  for (const [n, classes] of [[40, ['a', 'b', 'c']], [9, ['a', 'b', 'c', 'd']], [66, ['Covid', 'Normal', 'Viral Pneumonia']]] as const) {
    const yTrue = Array.from({ length: n }, (_, i) => (i < 2 ? classes.length - 1 : Math.floor(rng.next() * (classes.length - 1))));
    // Scores on a coarse grid, so many images tie.
    const probs = yTrue.map(() => {
      const raw = classes.map(() => Math.round(rng.next() * 4) + 1);
      const sum = raw.reduce((a, b) => a + b, 0);
      return raw.map((r) => r / sum);
    });
    const fast = bootstrapMacroF1Auc(yTrue, probs, [...classes], { resamples: 300, seed: 7 });
    assert.deepEqual(fast, bootstrapByDefinition(yTrue, probs, [...classes], 300, 7), `${n} images, ${classes.length} classes`);
  }
});

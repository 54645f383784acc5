import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeMetrics, normalQuantile, renderEvaluationMarkdown, rocAucOneVsRest, wilsonInterval } from '../../server/src/engine/eval';
import type { EvaluateResult, EvaluatedImage } from '../../server/src/engine/api';
import { CxrError } from '../../server/src/engine/errors';

const close = (actual: number, expected: number, tol = 1e-4, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);

test('normal quantile matches z(0.975) = 1.959963984540054', () => {
  close(normalQuantile(0.975), 1.959963984540054, 1e-8);
  close(normalQuantile(0.5), 0, 1e-12);
  close(normalQuantile(0.995), 2.5758293035489, 1e-8); // 99% two-sided, tail branch boundary side
  close(normalQuantile(0.001), -3.090232306167813, 1e-8); // lower tail branch
});

test('Wilson interval: 63/66 = [0.8747, 0.9844] (anchors.md), boundaries and n = 0', () => {
  // p = 0.954545, z^2 = 3.841459; centre = (p + z^2/132) / (1 + z^2/66) = 0.92954,
  // half = z/(1 + z^2/66) * sqrt(p(1-p)/66 + z^2/(4*66^2)) = 0.05488  ->  [0.87467, 0.98442]
  const ci = wilsonInterval(63, 66);
  close(ci.low, 0.8746668588675778, 1e-7, 'low');
  close(ci.high, 0.9844217256655664, 1e-7, 'high');
  assert.equal(ci.level, 0.95);
  assert.equal(ci.method, 'wilson');
  // 0/10: low is exactly 0, high = z^2 / (n + z^2) = 3.841459 / 13.841459 = 0.27753
  const zero = wilsonInterval(0, 10);
  assert.equal(zero.low, 0);
  close(zero.high, 0.2775327998628892, 1e-7);
  // 10/10 mirrors it
  const all = wilsonInterval(10, 10);
  close(all.low, 1 - 0.2775327998628892, 1e-7);
  assert.equal(all.high, 1);
  assert.deepEqual(wilsonInterval(0, 0), { low: 0, high: 1, level: 0.95, method: 'wilson' });
  // a higher level gives a wider interval
  const wide = wilsonInterval(63, 66, 0.99);
  assert.ok(wide.low < ci.low && wide.high > ci.high);
  assert.throws(() => wilsonInterval(5, 4), CxrError);
  assert.throws(() => wilsonInterval(1, 4, 1.5), CxrError);
});

test('ROC-AUC: ties count one half, undefined without positives or negatives', () => {
  assert.equal(rocAucOneVsRest([0.5, 0.5, 0.5, 0.5], [true, false, true, false]), 0.5);
  assert.equal(rocAucOneVsRest([0.3, 0.3], [true, false]), 0.5);
  assert.equal(rocAucOneVsRest([0.9, 0.8, 0.2, 0.1], [true, true, false, false]), 1);
  assert.equal(rocAucOneVsRest([0.1, 0.2, 0.8, 0.9], [true, true, false, false]), 0);
  // positives {0.8, 0.4}, negatives {0.4, 0.1}: pairs 0.8>0.4, 0.8>0.1, 0.4=0.4 (1/2), 0.4>0.1 -> 3.5/4
  assert.equal(rocAucOneVsRest([0.8, 0.4, 0.4, 0.1], [true, true, false, false]), 0.875);
  assert.equal(rocAucOneVsRest([0.8, 0.4], [true, true]), null);
  assert.equal(rocAucOneVsRest([0.8, 0.4], [false, false]), null);
  assert.throws(() => rocAucOneVsRest([0.1], [true, false]), CxrError);
});

// Three classes, ten images. y_true and y_pred (argmax of the rows below):
//   y_true = a a a a a b b b c c
//   y_pred = a a a b c b b a c c
// Confusion (rows true): a [3 1 1] (support 5), b [1 2 0] (3), c [0 0 2] (2); predicted counts a 4, b 3, c 3.
// sklearn classification_report:
//   a: precision 3/4 = 0.750, recall 3/5 = 0.600, F1 = 2*3/(2*3+1+2) = 0.667
//   b: precision 2/3 = 0.667, recall 2/3 = 0.667, F1 = 4/(4+1+1)   = 0.667
//   c: precision 2/3 = 0.667, recall 2/2 = 1.000, F1 = 4/(4+1+0)   = 0.800
//   accuracy 7/10 = 0.700; macro avg P 0.6944 R 0.7556 F1 0.7111; weighted avg P 0.7083 R 0.7000 F1 0.6933
//   balanced accuracy = mean recall = 0.7556
// One-vs-rest AUC (pairs positive > negative, ties 1/2):
//   a: positives .8 .7 .6 .3 .2 vs negatives .1 .2 .5 .1 .2 -> 5+5+5+4+(2+2*0.5) = 22/25 = 0.88
//   b: positives .8 .7 .4 vs negatives .1 .2 .3 .6 .2 .1 .1 -> 7+7+6 = 20/21 = 0.95238
//   c: positives .8 .7 vs eight 0.1/0.6 negatives -> 16/16 = 1; macro = 0.94413
// Loss: mean of -ln(p_true) over p_true = .8 .7 .6 .3 .2 .8 .7 .4 .8 .7 = 0.597998
const CLASSES = ['a', 'b', 'c'];
const Y_TRUE = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2];
const PROBS = [
  [0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
  [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1],
  [0.1, 0.1, 0.8], [0.2, 0.1, 0.7],
];

test('computeMetrics reproduces a hand-checked 3-class classification report', () => {
  const m = computeMetrics(Y_TRUE, PROBS, CLASSES);
  assert.equal(m.n, 10);
  assert.deepEqual(m.confusion_matrix, [[3, 1, 1], [1, 2, 0], [0, 0, 2]]);
  close(m.accuracy, 0.7, 1e-12);
  close(m.accuracy_ci.low, 0.39677814746114537, 1e-7);
  close(m.accuracy_ci.high, 0.8922087325936989, 1e-7);
  close(m.balanced_accuracy, (0.6 + 2 / 3 + 1) / 3, 1e-12);
  close(m.loss, 0.5979982558159008, 1e-9);

  const [a, b, c] = m.per_class;
  assert.deepEqual([a.name, b.name, c.name], CLASSES);
  close(a.precision, 0.75, 1e-12); close(a.recall, 0.6, 1e-12); close(a.f1, 2 / 3, 1e-12); assert.equal(a.support, 5);
  close(b.precision, 2 / 3, 1e-12); close(b.recall, 2 / 3, 1e-12); close(b.f1, 2 / 3, 1e-12); assert.equal(b.support, 3);
  close(c.precision, 2 / 3, 1e-12); close(c.recall, 1, 1e-12); close(c.f1, 0.8, 1e-12); assert.equal(c.support, 2);
  // Wilson on precision uses the predicted count (3 of 4), on recall the support (3 of 5).
  close(a.precisionCi.low, 0.30064184258240184, 1e-7); close(a.precisionCi.high, 0.9544127391902995, 1e-7);
  close(a.recallCi.low, 0.2307242812760128, 1e-7); close(a.recallCi.high, 0.882379225767352, 1e-7);
  close(c.recallCi.low, 0.34238022750665303, 1e-7); assert.equal(c.recallCi.high, 1);

  close(m.macro_avg.precision, 0.694444, 1e-6); close(m.macro_avg.recall, 0.755556, 1e-6); close(m.macro_avg.f1, 0.711111, 1e-6);
  close(m.weighted_avg.precision, 0.708333, 1e-6); close(m.weighted_avg.recall, 0.7, 1e-12); close(m.weighted_avg.f1, 0.693333, 1e-6);
  assert.equal(m.macro_avg.support, 10); assert.equal(m.weighted_avg.support, 10);

  close(a.auc!, 0.88, 1e-12); close(b.auc!, 20 / 21, 1e-12); assert.equal(c.auc, 1);
  close(m.macro_auc!, (0.88 + 20 / 21 + 1) / 3, 1e-12);

  // Data-driven caveats: 10 images (small set, CI width 49.5 points), every class under 10 images, a:c = 2.5:1.
  const text = m.caveats.join('\n');
  assert.match(text, /Small test set: 10 images.*39\.7-89\.2%\) is 49\.5 points wide/);
  assert.match(text, /Class 'c' has only 2 images: its recall \(2\/2\) has a 95% interval of 34\.2-100\.0%/);
  assert.match(text, /Class 'a' has only 5 images/);
  assert.match(text, /Class imbalance: 'a' has 5 images and 'c' has 2 \(2\.5:1\).*balanced accuracy \(75\.6%\)/);
  assert.doesNotMatch(text, /All 10 images are classified correctly/);
});

test('a class with no images: zero-division gives 0, AUC null, balanced accuracy skips it', () => {
  // c never occurs in y_true but is predicted once (image 3, a true 'b').
  // a: TP 2, predicted 2, support 2 -> P 1, R 1; b: TP 1, predicted 1, support 2 -> P 1, R 0.5, F1 2/3;
  // c: TP 0, predicted 1, support 0 -> P 0, R 0 (zero division), F1 0.
  const probs = [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]];
  const m = computeMetrics([0, 0, 1, 1], probs, ['a', 'b', 'c']);
  const c = m.per_class[2];
  assert.deepEqual([c.precision, c.recall, c.f1, c.support, c.auc], [0, 0, 0, 0, null]);
  assert.deepEqual(c.recallCi, { low: 0, high: 1, level: 0.95, method: 'wilson' });
  assert.equal(c.precisionCi.low, 0); // 0 of 1 predicted
  close(m.balanced_accuracy, (1 + 0.5) / 2, 1e-12);
  close(m.macro_avg.recall, (1 + 0.5 + 0) / 3, 1e-12);
  close(m.macro_avg.f1, (1 + 2 / 3 + 0) / 3, 1e-12);
  close(m.weighted_avg.f1, (2 * 1 + 2 * (2 / 3)) / 4, 1e-12);
  assert.equal(m.macro_auc, 1); // a and b are perfectly separated; c is left out
  const text = m.caveats.join('\n');
  assert.match(text, /Class 'c' has no images in this set/);
  assert.match(text, /Macro AUC averages only the classes where AUC is defined \('c' left out\)/);
});

test('loss clips probabilities like Keras; perfect small sets and never-predicted classes get caveats', () => {
  // The true class gets probability 0 -> clipped to 1e-7 -> -ln(1e-7) = 16.1181; the other image is exactly 1 -> 1 - 1e-7.
  const m = computeMetrics([0, 1], [[0, 1], [0, 1]], ['x', 'y']);
  close(m.loss, (-Math.log(1e-7) - Math.log(1 - 1e-7)) / 2, 1e-9);
  assert.match(m.caveats.join('\n'), /never predicted 'x' although 1 image belongs to it/);

  const perfect = computeMetrics([0, 0, 1, 1, 1], [[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7], [0.4, 0.6]], ['x', 'y']);
  assert.equal(perfect.accuracy, 1);
  // 5/5: Wilson lower bound = 5 / (5 + z^2) = 0.5655
  assert.match(perfect.caveats.join('\n'), /All 5 images are classified correctly, yet .* as low as 56\.6%/);
  assert.throws(() => computeMetrics([], [], ['x', 'y']), /split is empty/);
  assert.throws(() => computeMetrics([0], [[0.5, 0.5, 0]], ['x', 'y']), CxrError);
  assert.throws(() => computeMetrics([2], [[0.5, 0.5]], ['x', 'y']), CxrError);
});

test('a large, balanced, imperfect set gets no size, imbalance or perfection caveats', () => {
  const yTrue: number[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < 120; i++) {
    const t = i % 2;
    yTrue.push(t);
    const right = i % 10 !== 0; // 12 mistakes
    probs.push(t === (right ? 0 : 1) ? [0.8, 0.2] : [0.2, 0.8]);
  }
  const m = computeMetrics(yTrue, probs, ['x', 'y']);
  close(m.accuracy, 0.9, 1e-12);
  assert.deepEqual(m.caveats, []);
});

test('the markdown report carries the numbers, the tables, the caveats and the misclassified files', () => {
  const m = computeMetrics(Y_TRUE, PROBS, CLASSES);
  const predictions: EvaluatedImage[] = Y_TRUE.map((t, i) => {
    const classIndex = PROBS[i].indexOf(Math.max(...PROBS[i]));
    return {
      file: `img|${i}.png`,
      label: CLASSES[classIndex],
      classIndex,
      probabilities: Object.fromEntries(CLASSES.map((c, k) => [c, PROBS[i][k]])),
      trueLabel: CLASSES[t],
      correct: classIndex === t,
    };
  });
  const r: EvaluateResult = { ...m, run: 'runs/toy', data: '/data/toy', split: 'test', predictions, files: { json: 'e.json', markdown: 'e.md' } };
  const md = renderEvaluationMarkdown(r);
  assert.match(md, /^# Evaluation: runs\/toy/);
  assert.match(md, /Split: test \(10 images\)/);
  assert.match(md, /Research use only\. This is not a diagnostic device/);
  assert.match(md, /Accuracy: 70\.0% \(7\/10; 95% Wilson interval 39\.7-89\.2%\)/);
  assert.match(md, /Balanced accuracy: 75\.6%/);
  assert.match(md, /Macro one-vs-rest ROC-AUC: 0\.944/);
  assert.match(md, /\| a \| 0\.750 \[0\.301, 0\.954\] \| 0\.600 \[0\.231, 0\.882\] \| 0\.667 \| 5 \| 0\.880 \|/);
  assert.match(md, /\| c \| 0\.667 \[0\.208, 0\.939\] \| 1\.000 \[0\.342, 1\.000\] \| 0\.800 \| 2 \| 1\.000 \|/);
  assert.match(md, /\| macro avg \| 0\.694 \| 0\.756 \| 0\.711 \| 10 \| 0\.944 \|/);
  assert.match(md, /\| weighted avg \| 0\.708 \| 0\.700 \| 0\.693 \| 10 \|/);
  assert.match(md, /\| a \| 3 \(60%\) \| 1 \(20%\) \| 1 \(20%\) \| 5 \|/);
  assert.match(md, /\| b \| 1 \(33%\) \| 2 \(67%\) \| 0 \(0%\) \| 3 \|/);
  assert.match(md, /- Small test set: 10 images/);
  assert.match(md, /## Misclassified images \(3\)/);
  // The '|' in the file name is escaped so the table keeps its columns.
  assert.match(md, /\| img\\\|3\.png \| a \| b \| 0\.600 \| 0\.300 \|/);
  assert.match(md, /\| img\\\|7\.png \| b \| a \| 0\.500 \| 0\.400 \|/);
  assert.doesNotMatch(md, /img\\\|0\.png/);
});

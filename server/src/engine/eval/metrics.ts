import type { AverageMetrics, ClassMetrics, EvaluationMetrics } from '../api';
import { CxrError } from '../errors';
import { rocAucOneVsRest } from './auc';
import { wilsonInterval } from './intervals';
import { argMax } from '../util/argMax';
import { computeCaveats } from './caveats';

/** Keras' epsilon: probabilities are clipped to [1e-7, 1 - 1e-7] before the log, as `categorical_crossentropy` does. */
const EPSILON = 1e-7;

/**
 * Everything a classification report needs, from true class indices and per-image class probabilities.
 * Precision/recall/F1 follow sklearn's classification_report over all `classes` (zero division gives 0), with
 * Wilson intervals on precision (TP of predicted) and recall (TP of support). Predicted class = first argmax.
 */
export function computeMetrics(yTrue: number[], probs: number[][], classes: string[]): EvaluationMetrics {
  validate(yTrue, probs, classes);
  const k = classes.length;
  const n = yTrue.length;
  const yPred = probs.map(argMax);

  const confusion = classes.map(() => new Array<number>(k).fill(0));
  yTrue.forEach((t, i) => confusion[t][yPred[i]]++);

  let loss = 0;
  yTrue.forEach((t, i) => {
    const row = probs[i];
    const sum = row.reduce((a, b) => a + b, 0);
    // Keras rescales each row to sum to one before clipping; a softmax output already does.
    const p = sum > 0 ? row[t] / sum : 0;
    loss -= Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, p)));
  });
  loss /= n;

  const correct = yTrue.reduce((acc, t, i) => acc + (t === yPred[i] ? 1 : 0), 0);

  const perClass: ClassMetrics[] = classes.map((name, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    const f1Denominator = 2 * tp + (predicted - tp) + (support - tp);
    return {
      name,
      precision: predicted > 0 ? tp / predicted : 0,
      precisionCi: wilsonInterval(tp, predicted),
      recall: support > 0 ? tp / support : 0,
      recallCi: wilsonInterval(tp, support),
      f1: f1Denominator > 0 ? (2 * tp) / f1Denominator : 0,
      support,
      auc: rocAucOneVsRest(
        probs.map((row) => row[c]),
        yTrue.map((t) => t === c),
      ),
    };
  });

  const present = perClass.filter((m) => m.support > 0);
  const balancedAccuracy = present.reduce((a, m) => a + m.recall, 0) / present.length;
  const aucs = perClass.map((m) => m.auc).filter((a): a is number => a !== null);

  const metrics: EvaluationMetrics = {
    classes: [...classes],
    n,
    loss,
    accuracy: correct / n,
    accuracy_ci: wilsonInterval(correct, n),
    balanced_accuracy: balancedAccuracy,
    confusion_matrix: confusion,
    per_class: perClass,
    macro_avg: average(perClass, () => 1),
    weighted_avg: average(perClass, (m) => m.support),
    macro_auc: aucs.length > 0 ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null,
    caveats: [],
  };
  metrics.caveats = computeCaveats(metrics);
  return metrics;
}

function average(perClass: ClassMetrics[], weightOf: (m: ClassMetrics) => number): AverageMetrics {
  const total = perClass.reduce((a, m) => a + weightOf(m), 0);
  const mean = (pick: (m: ClassMetrics) => number) =>
    total > 0 ? perClass.reduce((a, m) => a + weightOf(m) * pick(m), 0) / total : 0;
  return {
    precision: mean((m) => m.precision),
    recall: mean((m) => m.recall),
    f1: mean((m) => m.f1),
    support: perClass.reduce((a, m) => a + m.support, 0),
  };
}


function validate(yTrue: number[], probs: number[][], classes: string[]): void {
  if (classes.length < 2) {
    throw new CxrError('INVALID_ARGUMENT', `Evaluation needs at least two classes; got ${JSON.stringify(classes)}.`);
  }
  if (yTrue.length === 0) {
    throw new CxrError('INVALID_ARGUMENT', 'No images to evaluate: the chosen split is empty. Check the dataset path and split.');
  }
  if (yTrue.length !== probs.length) {
    throw new CxrError('INVALID_ARGUMENT', `Got ${yTrue.length} labels but ${probs.length} probability rows; they must match one to one.`);
  }
  yTrue.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= classes.length) {
      throw new CxrError('INVALID_ARGUMENT', `Label ${t} of image ${i} is not a class index in 0..${classes.length - 1}.`);
    }
  });
  probs.forEach((row, i) => {
    if (row.length !== classes.length) {
      throw new CxrError('INVALID_ARGUMENT', `Image ${i} has ${row.length} probabilities for ${classes.length} classes.`);
    }
    if (row.some((p) => !Number.isFinite(p) || p < 0)) {
      throw new CxrError('INVALID_ARGUMENT', `Image ${i} has a negative or non-finite probability (${row.join(', ')}); the model output is broken.`);
    }
  });
}

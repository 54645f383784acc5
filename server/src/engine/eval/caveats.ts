import type { EvaluationMetrics } from '../api';
import { pct, pctInterval } from './format';

/** Below this many images a test set is "small": one image moves accuracy by more than a point. */
export const SMALL_TEST_SET = 100;
/** Below this many images a class's precision and recall are little more than anecdotes. */
export const SMALL_CLASS = 10;
/** Largest/smallest class support ratio from which accuracy and balanced accuracy can tell different stories. */
export const IMBALANCE_RATIO = 1.5;

/**
 * Sentences a reader must see next to the numbers, each computed from these metrics (sizes, interval widths,
 * supports). Dataset-level caveats (single source, duplicates across splits) are added by the caller, who knows the data.
 */
export function computeCaveats(m: EvaluationMetrics): string[] {
  const caveats: string[] = [];
  const correct = Math.round(m.accuracy * m.n);

  if (m.n < SMALL_TEST_SET) {
    const width = 100 * (m.accuracy_ci.high - m.accuracy_ci.low);
    caveats.push(
      `Small test set: ${m.n} images, so one image moves accuracy by ${(100 / m.n).toFixed(1)} points and the 95% interval ` +
        `on accuracy (${pctInterval(m.accuracy_ci)}) is ${width.toFixed(1)} points wide; models whose accuracies differ ` +
        'by less than that cannot be ranked on this split.',
    );
  }

  if (correct === m.n && m.n < SMALL_TEST_SET) {
    caveats.push(
      `All ${m.n} images are classified correctly, yet with this few images the true accuracy could be as low as ` +
        `${pct(m.accuracy_ci.low)} (95% lower bound); a perfect score on a small set is more often an easy or leaky ` +
        'split than a perfect model.',
    );
  }

  for (const c of m.per_class) {
    if (c.support === 0) {
      caveats.push(
        `Class '${c.name}' has no images in this set: its recall, F1 and AUC are undefined (reported as 0 and n/a), ` +
          'and the macro averages include its zeros.',
      );
    } else if (c.support < SMALL_CLASS) {
      const tp = Math.round(c.recall * c.support);
      caveats.push(
        `Class '${c.name}' has only ${c.support} images: its recall (${tp}/${c.support}) has a 95% interval of ` +
          `${pctInterval(c.recallCi)}.`,
      );
    }
  }

  const present = m.per_class.filter((c) => c.support > 0);
  if (present.length >= 2) {
    const largest = present.reduce((a, b) => (b.support > a.support ? b : a));
    const smallest = present.reduce((a, b) => (b.support < a.support ? b : a));
    const ratio = largest.support / smallest.support;
    if (ratio >= IMBALANCE_RATIO) {
      caveats.push(
        `Class imbalance: '${largest.name}' has ${largest.support} images and '${smallest.name}' has ${smallest.support} ` +
          `(${ratio.toFixed(1)}:1); accuracy (${pct(m.accuracy)}) leans toward the larger class, so read balanced ` +
          `accuracy (${pct(m.balanced_accuracy)}) alongside it.`,
      );
    }
  }

  m.classes.forEach((name, c) => {
    const predicted = m.confusion_matrix.reduce((a, row) => a + row[c], 0);
    if (predicted === 0 && m.per_class[c].support > 0) {
      const support = m.per_class[c].support;
      caveats.push(
        `The model never predicted '${name}' although ${support} image${support === 1 ? '' : 's'} belong${support === 1 ? 's' : ''} ` +
          'to it; its precision is reported as 0.',
      );
    }
  });

  const undefinedAuc = m.per_class.filter((c) => c.auc === null).map((c) => `'${c.name}'`);
  if (undefinedAuc.length > 0 && m.macro_auc !== null) {
    caveats.push(`Macro AUC averages only the classes where AUC is defined (${undefinedAuc.join(', ')} left out).`);
  }
  return caveats;
}

import type { BootstrapInterval } from '../api';
import { Rng } from '../util/rng';
import { computeMetrics } from './metrics';

export const BOOTSTRAP_RESAMPLES = 1000;

/**
 * Percentile bootstrap intervals for macro F1, macro one-vs-rest AUC and each class's AUC: test images resampled with
 * replacement, seeded. Resamples where an AUC is undefined (a class missing) are left out of that AUC's interval;
 * an interval is null when fewer than half of the resamples define it.
 */
export function bootstrapMacroF1Auc(
  yTrue: number[],
  probs: number[][],
  classes: string[],
  opts: { resamples?: number; level?: number; seed?: number } = {},
): { macroF1: BootstrapInterval; macroAuc: BootstrapInterval | null; perClassAuc: (BootstrapInterval | null)[] } {
  const resamples = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 12345);
  const f1s: number[] = [];
  const aucs: number[] = [];
  const classAucs: number[][] = classes.map(() => []);
  const n = yTrue.length;
  for (let b = 0; b < resamples; b++) {
    const idx = Array.from({ length: n }, () => rng.int(n));
    const m = computeMetrics(idx.map((i) => yTrue[i]), idx.map((i) => probs[i]), classes);
    f1s.push(m.macro_avg.f1);
    if (m.macro_auc !== null && m.per_class.every((c) => c.support > 0)) aucs.push(m.macro_auc);
    m.per_class.forEach((c, k) => {
      if (c.auc !== null) classAucs[k].push(c.auc);
    });
  }
  const interval = (values: number[]): BootstrapInterval => {
    const s = [...values].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.floor(p * s.length)))];
    return { low: q((1 - level) / 2), high: q(1 - (1 - level) / 2), level, method: 'bootstrap-percentile', resamples: values.length };
  };
  const ifDefined = (values: number[]) => (values.length >= resamples / 2 ? interval(values) : null);
  return { macroF1: interval(f1s), macroAuc: ifDefined(aucs), perClassAuc: classAucs.map(ifDefined) };
}

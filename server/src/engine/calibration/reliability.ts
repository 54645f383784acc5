import type { CalibrationReport } from '../api';

/**
 * Expected calibration error and the reliability diagram's data: predictions binned by their top probability;
 * per bin the mean confidence against the observed accuracy. ECE = sum over bins of (bin share x |accuracy - confidence|).
 */
export const RELIABILITY_BINS = 10;

export function reliability(probs: readonly (readonly number[])[], labels: readonly number[], bins = RELIABILITY_BINS): CalibrationReport {
  const acc = Array.from({ length: bins }, () => ({ count: 0, conf: 0, correct: 0 }));
  let nll = 0;
  probs.forEach((p, i) => {
    let k = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[k]) k = c;
    const b = Math.min(bins - 1, Math.floor(p[k] * bins));
    acc[b].count++;
    acc[b].conf += p[k];
    if (k === labels[i]) acc[b].correct++;
    nll -= Math.log(Math.max(p[labels[i]], 1e-12));
  });
  const n = probs.length;
  let ece = 0;
  const out = acc.map((a, b) => {
    const confidence = a.count ? a.conf / a.count : null;
    const accuracy = a.count ? a.correct / a.count : null;
    if (a.count) ece += (a.count / n) * Math.abs(accuracy! - confidence!);
    return { low: b / bins, high: (b + 1) / bins, count: a.count, confidence, accuracy };
  });
  return { n, ece: n ? ece : 0, nll: n ? nll / n : 0, bins: out };
}

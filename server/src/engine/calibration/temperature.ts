/**
 * Temperature scaling (Guo et al. 2017): one scalar T divides the logits; fitted on the validation split by
 * minimising the negative log-likelihood. The model's outputs are softmax probabilities, so log(p) serves as logits
 * (softmax is shift-invariant). T > 1 softens over-confident predictions; the argmax never changes.
 */
const MIN_LOG_T = Math.log(0.05);
const MAX_LOG_T = Math.log(20);

export function applyTemperature(probs: readonly number[], temperature: number): number[] {
  const logits = probs.map((p) => Math.log(Math.max(p, 1e-12)) / temperature);
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

export function negativeLogLikelihood(probs: readonly (readonly number[])[], labels: readonly number[], temperature = 1): number {
  let s = 0;
  probs.forEach((p, i) => {
    s -= Math.log(Math.max(applyTemperature(p, temperature)[labels[i]], 1e-12));
  });
  return s / probs.length;
}

/** Golden-section search on log T (NLL is unimodal in T for a fixed set of logits). */
export function fitTemperature(probs: readonly (readonly number[])[], labels: readonly number[]): number {
  if (probs.length === 0) return 1;
  const f = (logT: number) => negativeLogLikelihood(probs, labels, Math.exp(logT));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = MIN_LOG_T;
  let b = MAX_LOG_T;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 60; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

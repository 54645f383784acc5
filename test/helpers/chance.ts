/**
 * How many correct answers luck can give. A classifier that learned nothing gives predictions that do not depend on
 * the true label, so each is right with probability at most the largest class's share of the test set (always
 * guessing that class reaches it). The number right is then at most Binomial(n, p) with that p; a threshold whose
 * tail probability is tiny cannot be reached by a broken trainer through luck.
 */

/** P(X >= k) for X ~ Binomial(n, p), summed in log space so that large n stays exact enough. */
export function binomialTail(n: number, p: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let total = 0;
  let logChoose = 0; // log C(n, 0)
  for (let i = 0; i <= n; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    if (i >= k) total += Math.exp(logChoose + i * Math.log(p) + (n - i) * Math.log1p(-p));
  }
  return Math.min(1, total);
}

/** The best accuracy a label-blind classifier can expect: the largest class's share. */
export function chanceLevel(trueLabels: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const l of trueLabels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return Math.max(...counts.values()) / trueLabels.length;
}

/** The smallest number correct out of n that luck reaches with probability below `alpha`. */
export function beyondLuck(n: number, chance: number, alpha: number): number {
  for (let k = 0; k <= n; k++) if (binomialTail(n, chance, k) < alpha) return k;
  return n + 1;
}

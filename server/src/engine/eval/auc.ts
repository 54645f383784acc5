import { CxrError } from '../errors';

/**
 * One-vs-rest ROC-AUC as the Mann-Whitney U statistic: the probability that a random positive scores above a
 * random negative, ties counting one half (average ranks). Equals sklearn's roc_auc_score on the binary problem.
 * Returns null when there are no positives or no negatives (the AUC is undefined).
 */
export function rocAucOneVsRest(scores: number[], positives: boolean[]): number | null {
  if (scores.length !== positives.length) {
    throw new CxrError('INVALID_ARGUMENT', `AUC needs one label per score; got ${scores.length} scores and ${positives.length} labels.`);
  }
  if (scores.some((s) => Number.isNaN(s))) throw new CxrError('INVALID_ARGUMENT', 'AUC scores contain NaN; check the model outputs.');
  const nPos = positives.filter(Boolean).length;
  const nNeg = positives.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;

  const order = scores.map((_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1; // ranks are 1-based
    for (let k = start; k <= end; k++) if (positives[order[k]]) positiveRankSum += averageRank;
    start = end + 1;
  }
  const u = positiveRankSum - (nPos * (nPos + 1)) / 2;
  return u / (nPos * nNeg);
}

import type { EvaluateResult, TrainEvent } from '../engine/api';

/** One human-readable progress line per event; batch lines are thinned to keep logs short. */
export function formatTrainEvent(e: TrainEvent): string | null {
  switch (e.kind) {
    case 'phase':
      return e.total ? `${e.message} ${e.done}/${e.total}` : e.message;
    case 'batch':
      return e.batch === e.batches || e.batch % 10 === 0
        ? `  epoch ${e.epoch}/${e.epochs} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} acc ${e.accuracy.toFixed(3)}`
        : null;
    case 'epoch':
      return (
        `epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)} acc ${e.accuracy.toFixed(3)}` +
        (e.valLoss === null ? '' : ` val_loss ${e.valLoss.toFixed(4)} val_acc ${e.valAccuracy?.toFixed(3)}`) +
        ` (${e.seconds.toFixed(1)} s)${e.improved ? ' *best, saved' : ''}`
      );
    case 'warning':
      return `WARNING: ${e.message}`;
  }
}

export function formatEvaluation(r: EvaluateResult): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const lines = [
    `${r.split}: ${r.n} images, accuracy ${pct(r.accuracy)} (95% CI ${pct(r.accuracy_ci.low)}-${pct(r.accuracy_ci.high)}), ` +
      `balanced accuracy ${pct(r.balanced_accuracy)}, macro AUC ${r.macro_auc?.toFixed(3) ?? '-'}`,
    ...r.per_class.map(
      (c) =>
        `  ${c.name}: recall ${pct(c.recall)} [${pct(c.recallCi.low)}-${pct(c.recallCi.high)}], ` +
        `precision ${pct(c.precision)} [${pct(c.precisionCi.low)}-${pct(c.precisionCi.high)}], n=${c.support}`,
    ),
    `confusion matrix (rows true, columns predicted: ${r.classes.join(' | ')}):`,
    ...r.confusion_matrix.map((row, i) => `  ${r.classes[i]}: ${row.join(' ')}`),
    ...r.caveats.map((c) => `note: ${c}`),
    `report: ${r.files.markdown}`,
  ];
  return lines.join('\n');
}

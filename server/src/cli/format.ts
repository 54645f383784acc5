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
    ...trustLines(r),
    ...(r.unreadable ?? []).map((u) => `excluded (unreadable): ${u.file} [${u.code}] ${u.reason}`),
    ...r.caveats.map((c) => `note: ${c}`),
    `report: ${r.files.markdown}`,
  ];
  return lines.join('\n');
}

/** Side-by-side without train duplicates, bootstrap intervals, patient level and calibration, when present. */
function trustLines(r: EvaluateResult): string[] {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const out: string[] = [];
  const w = r.withoutTrainDuplicates;
  if (w && w.excluded.length > 0 && w.metrics) {
    out.push(`without the ${w.excluded.length} image(s) that have a copy in train: n=${w.metrics.n}, accuracy ${pct(w.metrics.accuracy)} ` +
      `(95% CI ${pct(w.metrics.accuracy_ci.low)}-${pct(w.metrics.accuracy_ci.high)}), macro AUC ${w.metrics.macro_auc?.toFixed(3) ?? '-'}`);
  }
  if (r.bootstrap) {
    const b = r.bootstrap;
    out.push(`macro F1 ${r.macro_avg.f1.toFixed(3)} [bootstrap ${b.macroF1.low.toFixed(3)}-${b.macroF1.high.toFixed(3)}], ` +
      `macro AUC ${r.macro_auc?.toFixed(3) ?? '-'} [bootstrap ${b.macroAuc ? `${b.macroAuc.low.toFixed(3)}-${b.macroAuc.high.toFixed(3)}` : 'n/a'}]`);
  }
  if (r.patientLevel) out.push(`patient level: ${r.patientLevel.patients} patients, accuracy ${pct(r.patientLevel.accuracy)} (95% CI ${pct(r.patientLevel.accuracy_ci.low)}-${pct(r.patientLevel.accuracy_ci.high)})`);
  if (r.calibration) {
    const c = r.calibration;
    out.push(`calibration: ECE ${c.raw.ece.toFixed(3)} raw` + (c.calibrated && c.temperature !== null ? `, ${c.calibrated.ece.toFixed(3)} with T=${c.temperature.toFixed(2)}` : ''));
  }
  return out;
}

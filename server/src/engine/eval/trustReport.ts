import type { CalibrationReport, EvaluateResult, SubsetMetrics } from '../api';
import { fixed, pct, pctInterval } from './format';

/** The evaluation.md sections that keep the numbers honest: side by side without train duplicates, bootstrap, patients, calibration. */
export function renderTrustMarkdown(r: EvaluateResult): string {
  const lines: string[] = [''];
  if (r.labelMap) {
    lines.push(
      '## Label mapping (external validation)',
      '',
      `Model classes ${r.modelClasses?.join(', ')} mapped to ${r.classes.join(', ')} by ${Object.entries(r.labelMap).map(([a, b]) => `${a} -> ${b}`).join(', ')}; ` +
        'merged classes add their probabilities.',
      '',
    );
  }
  const all: SubsetMetrics = { n: r.n, accuracy: r.accuracy, accuracy_ci: r.accuracy_ci, balanced_accuracy: r.balanced_accuracy, macro_f1: r.macro_avg.f1, macro_auc: r.macro_auc };
  const w = r.withoutTrainDuplicates;
  lines.push('## With and without test images that have a copy in train', '');
  if (w === null || w === undefined) {
    lines.push('Not checked: these images are not the dataset the model was trained on (run `cxr audit` on both).', '');
  } else {
    const row = (name: string, m: SubsetMetrics | null) =>
      m ? `| ${name} | ${m.n} | ${pct(m.accuracy)} [${pctInterval(m.accuracy_ci)}] | ${pct(m.balanced_accuracy)} | ${m.macro_f1.toFixed(3)} | ${fixed(m.macro_auc)} |` : `| ${name} | 0 | - | - | - | - |`;
    lines.push(
      '| images | n | accuracy [95% Wilson] | balanced accuracy | macro F1 | macro AUC |',
      '|---|---|---|---|---|---|',
      row('all', all),
      row('without near-duplicates of training images', w.excluded.length > 0 ? w.metrics : all),
      '',
      w.excluded.length > 0 ? `Left out (${w.excluded.length}): ${w.excluded.map((f) => `\`${f}\``).join(', ')}` : 'No test image has a copy in the training split.',
      '',
    );
  }
  if (r.bootstrap) {
    const b = r.bootstrap;
    lines.push(
      '## Bootstrap intervals',
      '',
      `- Macro F1 ${r.macro_avg.f1.toFixed(3)}, 95% bootstrap interval [${b.macroF1.low.toFixed(3)}, ${b.macroF1.high.toFixed(3)}] (${b.macroF1.resamples} resamples)`,
      `- Macro AUC ${fixed(r.macro_auc)}, 95% bootstrap interval ${b.macroAuc ? `[${b.macroAuc.low.toFixed(3)}, ${b.macroAuc.high.toFixed(3)}] (${b.macroAuc.resamples} resamples)` : 'not defined (a class is too rare)'}`,
      '',
    );
  }
  if (r.patientLevel) {
    const p = r.patientLevel;
    lines.push('## Patient level', '', `${p.patients} patients (mean probability over each patient's images): accuracy ${pct(p.accuracy)} [${pctInterval(p.accuracy_ci)}], balanced accuracy ${pct(p.balanced_accuracy)}, macro F1 ${p.macro_f1.toFixed(3)}, macro AUC ${fixed(p.macro_auc)}.`, '');
  }
  if (r.calibration) {
    const c = r.calibration;
    lines.push(
      '## Calibration',
      '',
      `- Expected calibration error (10 bins): ${c.raw.ece.toFixed(3)} raw` +
        (c.calibrated && c.temperature !== null ? `, ${c.calibrated.ece.toFixed(3)} after temperature scaling (T = ${c.temperature.toFixed(3)}, fitted on validation)` : ' (no temperature saved with this run)'),
      '',
      ...reliabilityTable(c.calibrated ?? c.raw, c.calibrated ? 'calibrated' : 'raw'),
    );
  }
  return lines.join('\n');
}

export function reliabilityTable(report: CalibrationReport, label: string): string[] {
  return [
    `Reliability diagram (${label}): per bin of top-class probability, mean confidence against observed accuracy.`,
    '',
    '| bin | images | mean confidence | accuracy |',
    '|---|---|---|---|',
    ...report.bins.filter((b) => b.count > 0).map((b) => `| ${b.low.toFixed(1)}-${b.high.toFixed(1)} | ${b.count} | ${b.confidence!.toFixed(3)} | ${b.accuracy!.toFixed(3)} |`),
    '',
  ];
}

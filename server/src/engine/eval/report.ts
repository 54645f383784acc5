import type { EvaluateResult } from '../api';
import { fixed, pct, pctInterval } from './format';

/** A human-readable evaluation.md: headline numbers with intervals, the classification report, the confusion matrix, caveats and the misclassified files. */
export function renderEvaluationMarkdown(r: EvaluateResult): string {
  const correct = Math.round(r.accuracy * r.n);
  const lines: string[] = [
    `# Evaluation: ${r.run}`,
    '',
    `- Data: \`${r.data}\``,
    `- Split: ${r.split} (${r.n} images${r.unreadable?.length ? `; ${r.unreadable.length} more could not be read and are left out` : ''})`,
    `- Classes: ${r.classes.join(', ')}`,
    '',
    '> Research use only. This is not a diagnostic device and must not be used for clinical decisions.',
    '',
    '## Summary',
    '',
    `- Accuracy: ${pct(r.accuracy)} (${correct}/${r.n}; 95% Wilson interval ${pctInterval(r.accuracy_ci)})`,
    `- Balanced accuracy: ${pct(r.balanced_accuracy)}`,
    `- Macro one-vs-rest ROC-AUC: ${fixed(r.macro_auc)}`,
    `- Loss (categorical cross-entropy): ${r.loss.toFixed(4)}`,
    '',
    '## Classification report',
    '',
    '| class | precision [95% CI] | recall [95% CI] | F1 | support | AUC [95% bootstrap CI] | average precision |',
    '|---|---|---|---|---|---|---|',
    ...r.per_class.map((c, k) => {
      const ci = r.bootstrap?.perClassAuc?.[k];
      return (
        `| ${cell(c.name)} | ${c.precision.toFixed(3)} [${c.precisionCi.low.toFixed(3)}, ${c.precisionCi.high.toFixed(3)}] ` +
        `| ${c.recall.toFixed(3)} [${c.recallCi.low.toFixed(3)}, ${c.recallCi.high.toFixed(3)}] | ${c.f1.toFixed(3)} | ${c.support} ` +
        `| ${fixed(c.auc)}${ci ? ` [${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}]` : ''} | ${fixed(r.curves?.[k]?.averagePrecision ?? null)} |`
      );
    }),
    `| macro avg | ${r.macro_avg.precision.toFixed(3)} | ${r.macro_avg.recall.toFixed(3)} | ${r.macro_avg.f1.toFixed(3)} | ${r.macro_avg.support} | ${fixed(r.macro_auc)} | |`,
    `| weighted avg | ${r.weighted_avg.precision.toFixed(3)} | ${r.weighted_avg.recall.toFixed(3)} | ${r.weighted_avg.f1.toFixed(3)} | ${r.weighted_avg.support} | | |`,
    '',
    '## Confusion matrix',
    '',
    'Rows are the true class, columns the predicted class; each cell shows the count and its share of the row.',
    '',
    `| true \\ predicted | ${r.classes.map(cell).join(' | ')} | total |`,
    `|---|${r.classes.map(() => '---|').join('')}---|`,
    ...r.confusion_matrix.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      const cells = row.map((count) => `${count} (${total > 0 ? pct(count / total, 0) : '-'})`);
      return `| ${cell(r.classes[i])} | ${cells.join(' | ')} | ${total} |`;
    }),
    '',
    '## Caveats',
    '',
    ...(r.caveats.length > 0 ? r.caveats.map((c) => `- ${c}`) : ['- None computed for this set.']),
    '',
  ];

  if (r.unreadable?.length) {
    lines.push(`## Unreadable images (${r.unreadable.length})`, '', 'Left out of every number above.', '', '| file | code | reason |', '|---|---|---|');
    for (const u of r.unreadable) lines.push(`| ${cell(u.file)} | ${u.code} | ${cell(u.reason)} |`);
    lines.push('');
  }

  const wrong = r.predictions.filter((p) => !p.correct);
  lines.push(`## Misclassified images (${wrong.length})`, '');
  if (wrong.length === 0) {
    lines.push('None.');
  } else {
    lines.push('| file | true | predicted | probability of predicted | probability of true |', '|---|---|---|---|---|');
    for (const p of wrong) {
      lines.push(
        `| ${cell(p.file)} | ${cell(p.trueLabel)} | ${cell(p.label)} | ${fixed(p.probabilities[p.label] ?? null)} | ${fixed(p.probabilities[p.trueLabel] ?? null)} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

/** Keeps a value inside one table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult, EvaluateResult, ShortcutAuditResult } from '../api';
import { renderAuditMarkdown } from '../audit/auditReport';
import { reliabilityTable, renderTrustMarkdown } from '../eval/trustReport';
import { readCalibration, readOodModel } from '../ood/trustFiles';
import { readRunSummary } from '../runStore';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { RunFolder } from '../train/runFolder';
import { readJson, writeFileAtomic } from '../util/atomic';

/**
 * The model card of a run: what it was trained on and what the audit found, how, how well (with intervals and the
 * numbers that cannot flatter), how calibrated, what the shortcut audits say, what it is for and what it is not.
 * Built only from files in the run folder; sections whose files are missing say how to produce them.
 */
export async function writeModelCard(runDir: string, paths: PathPolicy = UNRESTRICTED): Promise<{ file: string; markdown: string }> {
  const run = new RunFolder(path.resolve(runDir), paths);
  const markdown = await renderModelCard(run, paths);
  writeFileAtomic(run.modelCardFile, markdown);
  return { file: run.modelCardFile, markdown };
}

/** The run's model card, rendered from its files now (nothing written). */
export async function renderRunModelCard(runDir: string, paths: PathPolicy = UNRESTRICTED): Promise<string> {
  return renderModelCard(new RunFolder(path.resolve(runDir), paths), paths);
}

async function renderModelCard(run: RunFolder, paths: PathPolicy): Promise<string> {
  const config = run.readConfig();
  const summary = await readRunSummary(run.dir, paths);
  const audit = readIfExists<AuditResult>(run.auditFile);
  const evaluation = readIfExists<EvaluateResult>(path.join(run.evaluationRoot, 'test', 'evaluation.json'));
  const calibration = readCalibration(run.dir, paths);
  const ood = readOodModel(run.dir, paths);
  const shortcuts = readIfExists<ShortcutAuditResult>(run.shortcutsFile);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const lines: string[] = [
    `# Model card: ${path.basename(run.dir)}`,
    '',
    '## Intended use',
    '',
    '**Research and teaching only. Not a medical device; not for diagnosis, triage or any clinical decision.** ' +
      `It sorts chest radiographs into ${config.classes.join(', ')} as learned from one public dataset; it has not been validated on any clinical population.`,
    '',
    '## Model and training',
    '',
    `- Backbone: ${config.backbone}, ${config.pretrained ? `pretrained weights (${config.weights ?? 'ImageNet'})` : '**random initialisation**'}, frozen up to \`${config.freezeAt}\`; global average pooling + Dense(${config.classes.length}, softmax)`,
    `- Input ${config.imageSize} x ${config.imageSize}; SGD lr ${config.learningRate}, momentum ${config.momentum}, batch ${config.batchSize}, ${config.epochs} epochs (${summary.epochsRun} run, best epoch ${summary.bestEpoch ?? '-'}), seed ${config.seed}`,
    `- Augmentation: ${config.augment ? `rotation ${config.augment.rotationDeg} deg, shift ${config.augment.widthShift}/${config.augment.heightShift}, zoom ${config.augment.zoom}` : 'none'}`,
    `- Status: ${summary.status}; created ${config.createdAt}`,
    '',
    '## Data',
    '',
    `- \`${config.data}\`: ${config.split.train} training, ${config.split.val} validation (carved from train, stratified${config.split.groupedByPatient ? ', by patient' : ''}), ${config.split.test} test images`,
    '',
  ];
  if (audit) lines.push(renderAuditMarkdown(audit, { headingLevel: 3 }).replace(/^### Dataset audit: .*$/m, '### Dataset audit'), '');
  else lines.push('No dataset audit saved with this run: run `cxr audit` on its data.', '');

  lines.push('## Performance', '');
  if (evaluation) {
    const correct = Math.round(evaluation.accuracy * evaluation.n);
    lines.push(
      `Test split of the training dataset (internal validation), ${evaluation.n} images:`,
      '',
      `- Accuracy ${pct(evaluation.accuracy)} (${correct}/${evaluation.n}; 95% Wilson interval ${pct(evaluation.accuracy_ci.low)}-${pct(evaluation.accuracy_ci.high)}), balanced accuracy ${pct(evaluation.balanced_accuracy)}`,
      '',
      '| class | precision [95% CI] | recall [95% CI] | F1 | support | AUC |',
      '|---|---|---|---|---|---|',
      ...evaluation.per_class.map(
        (c) => `| ${c.name} | ${c.precision.toFixed(3)} [${c.precisionCi.low.toFixed(3)}, ${c.precisionCi.high.toFixed(3)}] | ${c.recall.toFixed(3)} [${c.recallCi.low.toFixed(3)}, ${c.recallCi.high.toFixed(3)}] | ${c.f1.toFixed(3)} | ${c.support} | ${c.auc?.toFixed(3) ?? 'n/a'} |`,
      ),
      renderTrustMarkdown(evaluation).replace(/^## /gm, '### ').replace(/^### Calibration[\s\S]*$/m, ''),
      '',
    );
  } else {
    lines.push('Not evaluated yet: run `cxr evaluate <run> <data>`; the card is rewritten with the results.', '');
  }

  lines.push('## Calibration and refusal', '');
  if (calibration) {
    lines.push(
      `- Temperature scaling fitted on the ${calibration.valAfter.n} validation images: T = ${calibration.temperature.toFixed(3)}; ` +
        `validation ECE ${calibration.valBefore.ece.toFixed(3)} before, ${calibration.valAfter.ece.toFixed(3)} after (few images: read as rough).`,
      evaluation?.calibration
        ? `- Test ECE ${evaluation.calibration.raw.ece.toFixed(3)} raw${evaluation.calibration.calibrated ? `, ${evaluation.calibration.calibrated.ece.toFixed(3)} calibrated` : ''}.`
        : '- Test calibration: evaluate the run to measure it.',
      `- Predictions whose calibrated top probability is below ${calibration.abstainBelow} are reported as "uncertain" (\`--abstain-below\` changes it).`,
      '',
      ...(evaluation?.calibration?.calibrated ? reliabilityTable(evaluation.calibration.calibrated, 'test, calibrated') : []),
    );
  } else {
    lines.push('- No calibration saved with this run (trained before calibration existed): predictions are uncalibrated.', '');
  }
  lines.push(
    ood
      ? `- Out-of-distribution inputs are refused: images that are not frontal chest radiographs (colour, DICOM modality or body part, size, blank) and images whose features lie farther from the ${ood.n} training images than the threshold (${ood.threshold.toFixed(4)}, mean cosine distance to the ${ood.k} nearest) set on validation and leave-one-out training distances.`
      : '- No feature-distance model saved with this run: only the not-a-chest-radiograph rules apply.',
    '',
    '## Shortcut audits',
    '',
  );
  if (shortcuts) {
    lines.push(`On the ${shortcuts.split} split of \`${shortcuts.data}\` (${shortcuts.n} images; \`cxr shortcuts\`):`, '');
    for (const s of shortcuts.checks) lines.push(`- **${s.name}**: ${s.sentence}`);
    lines.push('');
  } else {
    lines.push('Not run yet, so nothing here shows that the model looks at the lungs rather than at the source of the image: run `cxr shortcuts <run> <data>` (lungs-masked and border-only accuracy, heatmap energy in the lung field, weight randomisation).', '');
  }
  lines.push(
    '## Known limitations',
    '',
    '- Trained and tested on one public collection; the test split is internal validation only. Expect lower accuracy on other hospitals, scanners and populations.',
    ...(audit?.findings.filter((f) => f.severity === 'critical').map((f) => `- ${f.message}`) ?? []),
    '- Image-level labels without radiologist review; no lateral views, children and adults mixed by class in the sample data.',
    '- Heatmaps show where the model looked, not why, and not whether it was right.',
    '',
  );
  return lines.join('\n');
}

function readIfExists<T>(file: string): T | null {
  return fs.existsSync(file) ? readJson<T>(file) : null;
}

import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AuditDuplicatePair, AuditFinding, AuditResult } from '../api';

const ICON: Record<AuditFinding['severity'], string> = { critical: '**CRITICAL**', warning: '**warning**', info: 'note' };

/**
 * The audit as Markdown: findings first, then the duplicate pairs (with thumbnails when `thumbnails`, as file URLs a
 * Markdown preview can show), then the probe's numbers. Used by the editor view and the model card.
 */
export function renderAuditMarkdown(result: AuditResult, opts: { thumbnails?: boolean; headingLevel?: number } = {}): string {
  const h = '#'.repeat(opts.headingLevel ?? 1);
  const rel = (f: string) => relativeTo(result.data, f);
  const lines = [
    `${h} Dataset audit: ${path.basename(result.data)}`,
    '',
    `\`${result.data}\`: ${result.images} images, classes ${result.classes.join(', ')}.`,
    '',
    `${h}# Findings`,
    '',
    ...result.findings.map((f) => `- ${ICON[f.severity]} (${f.kind}): ${f.message}`),
    '',
  ];
  if (result.duplicates.length > 0) {
    lines.push(
      `${h}# Duplicate pairs`,
      '',
      `Near-duplicate: perceptual hash at most ${result.thresholds.hashMaxDistance} of 64 bits apart and 32 x 32 thumbnails correlating at ` +
        `${result.thresholds.minCorrelation} or more; exact: identical bytes.`,
      '',
      '| image A | image B | splits | match |',
      '|---|---|---|---|',
      ...result.duplicates.map((p) => pairRow(p, rel, opts.thumbnails === true)),
      '',
    );
    const totals = result.duplicateTotals;
    if (totals && totals.pairs > result.duplicates.length) {
      lines.push(
        `${result.duplicates.length} of ${totals.pairs} pairs listed (${totals.trainTestPairs} across train and test, ${totals.withinSplitPairs} within a split, ` +
          `${totals.labelConflictPairs} with different labels; ${totals.exactPairs} byte-identical, ${totals.nearPairs} near-duplicate).`,
        '',
      );
    }
  }
  const groups = result.duplicateGroups ?? [];
  if (groups.length > 0) {
    const total = result.duplicateTotals?.identicalGroups ?? groups.length;
    lines.push(
      `${h}# Sets of byte-identical files`,
      '',
      `${total} set(s)${total > groups.length ? `, the ${groups.length} largest listed` : ''}.`,
      '',
      '| copies | files | labels | splits |',
      '|---|---|---|---|',
      ...groups.map(
        (g) =>
          `| ${g.count} | ${g.files.map((f) => `\`${escapeCell(rel(f.file))}\``).join(', ')}${g.more > 0 ? ` and ${g.more} more` : ''} | ` +
          `${g.labels.map(escapeCell).join(', ')} | ${Object.entries(g.splits).map(([s, n]) => `${s} ${n}`).join(', ')} |`,
      ),
      '',
    );
  }
  if (result.confound) {
    const c = result.confound;
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    lines.push(
      `${h}# Source-confound probe`,
      '',
      `| probe accuracy (${c.folds}-fold CV) | 95% CI | always the largest class | chance | n |`,
      '|---|---|---|---|---|',
      `| ${pct(c.accuracy)} | ${pct(c.accuracyCi.low)}-${pct(c.accuracyCi.high)} | ${pct(c.majorityRate)} | ${pct(c.chanceRate)} | ${c.n} |`,
      '',
      `Strongest single properties: ${c.strongestFeatures.map((f) => `${f.feature} ${pct(f.accuracy)}`).join(', ')}.`,
      '',
    );
  }
  return lines.join('\n');
}

function pairRow(p: AuditDuplicatePair, rel: (f: string) => string, thumbnails: boolean): string {
  const cell = (s: { file: string; label: string }) =>
    (thumbnails ? `<img src="${pathToFileURL(s.file).href}" width="96" alt=""><br>` : '') + `\`${escapeCell(rel(s.file))}\` (${escapeCell(s.label)})`;
  const match = p.exact ? 'identical bytes' : `${p.distance} bits, r = ${p.correlation.toFixed(3)}`;
  return `| ${cell(p.a)} | ${cell(p.b)} | ${p.a.split} / ${p.b.split} | ${match} |`;
}

function relativeTo(data: string, file: string): string {
  const base = path.extname(data).toLowerCase() === '.csv' ? path.dirname(data) : data;
  const r = path.relative(base, file);
  return r.startsWith('..') ? file : r;
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

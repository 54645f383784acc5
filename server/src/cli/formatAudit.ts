import type { AuditResult } from '../engine/api';
import { formatFinding } from '../engine/audit/auditDataset';

export function formatAudit(result: AuditResult): string {
  const bySeverity = (s: string) => result.findings.filter((f) => f.severity === s).length;
  return [
    `Audit of ${result.data}: ${result.images} images, classes ${result.classes.join(', ')} (${result.seconds.toFixed(1)} s)`,
    `${bySeverity('critical')} critical, ${bySeverity('warning')} warning(s), ${bySeverity('info')} note(s)`,
    '',
    ...result.findings.map((f) => formatFinding(f, result.data)),
  ].join('\n');
}

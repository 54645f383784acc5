import type { AuditResult } from '../api';

/**
 * The audit findings a training run must show the user: every warning and critical finding, in plain words.
 * (Info findings such as class counts stay in audit.json and the model card.)
 */
export function auditTrainingWarnings(audit: AuditResult): string[] {
  return audit.findings.filter((f) => f.severity !== 'info').map((f) => `Dataset audit (${f.severity}): ${f.message}`);
}

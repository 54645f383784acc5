import * as fs from 'node:fs';

/**
 * Fault injection for the crash tests, off unless the environment asks for it. Every step of an atomic write calls
 * faultPoint(label); the steps are numbered from 1 in the order they happen in this process.
 *
 *   CXR_FAULT_TRACE=<file>   append "<n> <label>" for every step to <file> (to learn the numbers)
 *   CXR_FAULT=<kind>@<n>     at step n: kill (SIGKILL this process, as a power cut would), or throw an ENOSPC
 *                            (disk full), EROFS (read-only) or EACCES error, as the file system would
 */
let counter = 0;
const spec = parseSpec(process.env.CXR_FAULT);
const traceFile = process.env.CXR_FAULT_TRACE;

function parseSpec(raw: string | undefined): { kind: string; at: number } | null {
  const m = raw ? /^(kill|enospc|erofs|eacces)@(\d+)$/.exec(raw) : null;
  return m ? { kind: m[1], at: Number(m[2]) } : null;
}

export function faultPoint(label: string): void {
  if (!spec && !traceFile) return;
  counter++;
  if (traceFile) fs.appendFileSync(traceFile, `${counter} ${label}\n`);
  if (!spec || spec.at !== counter) return;
  if (spec.kind === 'kill') process.kill(process.pid, 'SIGKILL');
  const code = spec.kind.toUpperCase();
  const messages: Record<string, string> = { ENOSPC: 'no space left on device', EROFS: 'read-only file system', EACCES: 'permission denied' };
  throw Object.assign(new Error(`${code}: ${messages[code]} (injected at ${label})`), { code });
}

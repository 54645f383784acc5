import * as fs from 'node:fs';

/**
 * This process's own peak RSS in MiB: VmHWM from /proc where there is one. getrusage's maxRSS is not reset by exec on
 * Linux, so a process spawned by a large parent reports at least the parent's size at the fork.
 */
export function peakRssMiB(): number {
  try {
    const kb = /VmHWM:\s*(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Math.round(Number(kb) / 1024);
  } catch {
    // not Linux
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

import type { Interval } from '../api';

/** 0.9545 -> "95.5%". */
export function pct(x: number, digits = 1): string {
  return `${(100 * x).toFixed(digits)}%`;
}

/** Interval in percent: "87.5-98.4%". */
export function pctInterval(ci: Interval, digits = 1): string {
  return `${(100 * ci.low).toFixed(digits)}-${(100 * ci.high).toFixed(digits)}%`;
}

/** Fixed decimals, or "n/a" for null. */
export function fixed(x: number | null, digits = 3): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

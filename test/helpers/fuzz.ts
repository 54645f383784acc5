/**
 * Seeded mutation of byte strings and JSON values for the fuzz tests: the same seed gives the same cases, so a
 * failure reproduces with CXR_FUZZ_SEED=<seed> (the failing case's index and mutations are in the message).
 */

/** The seed from CXR_FUZZ_SEED, else the fixed default (CI runs the same cases every time). */
export function fuzzSeed(fallback: number): number {
  const raw = process.env.CXR_FUZZ_SEED;
  const seed = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`CXR_FUZZ_SEED must be an integer, got '${raw}'`);
  return seed >>> 0;
}

/** mulberry32: small, fast, good enough to pick mutations. */
export class FuzzRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];
const INTERESTING_U32 = [0, 0xffffffff, 0x7fffffff, 0x80000000, 1, 65535, 100_000, 12_000];

/**
 * 1 to 4 mutations of `input`, biased to its first `headBytes` (where formats keep sizes, lengths and markers):
 * bit flips, interesting bytes and 32-bit numbers, truncation, inserted or removed runs, a duplicated chunk.
 */
export function mutateBytes(input: Buffer, rng: FuzzRng, headBytes = 256): { bytes: Buffer; ops: string[] } {
  let bytes = Buffer.from(input);
  const ops: string[] = [];
  const count = 1 + rng.int(4);
  const at = (): number => (rng.next() < 0.6 ? rng.int(Math.min(headBytes, bytes.length)) : rng.int(bytes.length));
  for (let k = 0; k < count && bytes.length > 0; k++) {
    switch (rng.int(7)) {
      case 0: {
        const i = at();
        const bit = rng.int(8);
        bytes[i] ^= 1 << bit;
        ops.push(`flip ${i}.${bit}`);
        break;
      }
      case 1: {
        const i = at();
        bytes[i] = rng.pick(INTERESTING_BYTES);
        ops.push(`byte ${i}=${bytes[i]}`);
        break;
      }
      case 2: {
        const i = Math.min(at(), Math.max(0, bytes.length - 4));
        const v = rng.pick(INTERESTING_U32);
        if (bytes.length >= 4) rng.next() < 0.5 ? bytes.writeUInt32BE(v, i) : bytes.writeUInt32LE(v, i);
        ops.push(`u32 ${i}=${v}`);
        break;
      }
      case 3: {
        const n = rng.int(bytes.length);
        bytes = bytes.subarray(0, n);
        ops.push(`truncate ${n}`);
        break;
      }
      case 4: {
        const i = at();
        const run = Buffer.alloc(1 + rng.int(64));
        for (let j = 0; j < run.length; j++) run[j] = rng.int(256);
        bytes = Buffer.concat([bytes.subarray(0, i), run, bytes.subarray(i)]);
        ops.push(`insert ${i}+${run.length}`);
        break;
      }
      case 5: {
        const i = at();
        const n = 1 + rng.int(64);
        bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + n)]);
        ops.push(`delete ${i}-${n}`);
        break;
      }
      default: {
        const i = rng.int(bytes.length);
        const n = 1 + rng.int(Math.min(512, bytes.length - i));
        const j = at();
        bytes = Buffer.concat([bytes.subarray(0, j), bytes.subarray(i, i + n), bytes.subarray(j)]);
        ops.push(`dup ${i}+${n}@${j}`);
      }
    }
  }
  return { bytes, ops };
}

/** A JSON value of the wrong kind for wherever it lands. */
export function oddJsonValue(rng: FuzzRng): unknown {
  const deep = (depth: number): unknown => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = rng.next() < 0.5 ? [v] : { x: v };
    return v;
  };
  return rng.pick<() => unknown>([
    () => null,
    () => 42,
    () => -1,
    () => 1e308,
    () => true,
    () => '',
    () => 'x'.repeat(100_000),
    () => '/etc/passwd',
    () => '../../../../etc/shadow',
    () => 'image\u0000.png',
    () => [],
    () => ['a', 1, null],
    () => ({}),
    () => ({ __proto__: { polluted: true } }),
    () => deep(500),
  ])();
}

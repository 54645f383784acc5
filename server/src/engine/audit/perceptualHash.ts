/**
 * Perceptual hash (pHash) of a grey image: the signs of the 8 x 8 lowest-frequency DCT coefficients of a 32 x 32
 * version against their median. Resizing, re-encoding, grey/RGB conversion and small brightness changes barely move
 * those coefficients, so copies of one image land a few bits apart while different X-rays land about 20-32 apart
 * (measured on the sample data: see docs in BENCHMARKS.md, "Near-duplicate threshold").
 */
export const HASH_BITS = 64;
const N = 32;
const K = 8;

const COS = (() => {
  const table = new Float64Array(K * N);
  for (let u = 0; u < K; u++) for (let x = 0; x < N; x++) table[u * N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  return table;
})();

/** `grey32` is 32 x 32, row-major. Returns 64 bits as a Uint8Array of 0/1. */
export function perceptualHash(grey32: Float32Array): Uint8Array {
  if (grey32.length !== N * N) throw new Error(`perceptualHash needs a ${N}x${N} image, got ${grey32.length} values.`);
  // Separable DCT-II restricted to the K lowest frequencies in each direction.
  const rows = new Float64Array(N * K);
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += grey32[y * N + x] * COS[u * N + x];
      rows[y * K + u] = s;
    }
  }
  const coeffs = new Float64Array(K * K);
  for (let v = 0; v < K; v++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * K + u] * COS[v * N + y];
      coeffs[v * K + u] = s;
    }
  }
  // The DC term only measures mean brightness: leave it out of the median.
  const median = medianOf(Array.from(coeffs.subarray(1)));
  const bits = new Uint8Array(HASH_BITS);
  for (let i = 0; i < HASH_BITS; i++) bits[i] = coeffs[i] > median ? 1 : 0;
  return bits;
}

export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

function medianOf(values: number[]): number {
  const s = values.sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

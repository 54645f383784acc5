/**
 * matplotlib's 'jet' colormap, value for value. matplotlib samples the segment data below into a 256-entry table at
 * x = i/255 (`_create_lookup_table`) and maps a float v to entry floor(256 v) (1.0 -> 255, below 0 -> first entry,
 * above 1 -> last). Reproducing that table, not the continuous segments, is what makes our overlays match
 * `plt.cm.jet(v)` and the Keras Grad-CAM tutorial's `jet(np.arange(256))` lookup.
 */
type Segments = ReadonlyArray<readonly [x: number, y0: number, y1: number]>;

const JET_SEGMENTS: Record<'red' | 'green' | 'blue', Segments> = {
  red: [[0, 0, 0], [0.35, 0, 0], [0.66, 1, 1], [0.89, 1, 1], [1, 0.5, 0.5]],
  green: [[0, 0, 0], [0.125, 0, 0], [0.375, 1, 1], [0.64, 1, 1], [0.91, 0, 0], [1, 0, 0]],
  blue: [[0, 0.5, 0.5], [0.11, 1, 1], [0.34, 1, 1], [0.65, 0, 0], [1, 0, 0]],
};

const N = 256;

/** matplotlib.colors._create_lookup_table(N, segments) with gamma 1, in the same floating-point order. */
function lookupTable(segments: Segments): Float64Array {
  const x = segments.map((s) => s[0] * (N - 1));
  const lut = new Float64Array(N);
  lut[0] = segments[0][2];
  lut[N - 1] = segments[segments.length - 1][1];
  const step = 1 / (N - 1); // numpy.linspace(0, 1, N) = arange(N) * step
  for (let i = 1; i < N - 1; i++) {
    const xi = (N - 1) * (i * step);
    let j = 0;
    while (x[j] < xi) j++; // numpy.searchsorted(x, xi), side='left'
    const distance = (xi - x[j - 1]) / (x[j] - x[j - 1]);
    const v = distance * (segments[j][1] - segments[j - 1][2]) + segments[j - 1][2];
    lut[i] = Math.min(1, Math.max(0, v));
  }
  return lut;
}

const RED = lookupTable(JET_SEGMENTS.red);
const GREEN = lookupTable(JET_SEGMENTS.green);
const BLUE = lookupTable(JET_SEGMENTS.blue);

/** Index into the 256-entry table exactly as matplotlib's Colormap.__call__ computes it for a float. */
export function jetIndex(v: number): number {
  let xa = v * N;
  if (xa === N) xa = N - 1;
  if (xa < 0) return 0;
  if (xa >= N) return N - 1;
  return Math.trunc(xa);
}

/** RGB in [0, 1] for v in [0, 1]: `matplotlib.cm.jet(v)[:3]`. NaN gives black (matplotlib's transparent "bad" colour). */
export function jet(v: number): [number, number, number] {
  if (Number.isNaN(v)) return [0, 0, 0];
  const i = jetIndex(v);
  return [RED[i], GREEN[i], BLUE[i]];
}

/** The table as 8-bit RGB (3 bytes per entry, Math.round(255 * value)): what a canvas draws, without an array per pixel. */
export const JET_BYTES: Uint8Array = (() => {
  const out = new Uint8Array(N * 3);
  for (let i = 0; i < N; i++) {
    out[3 * i] = Math.round(255 * RED[i]);
    out[3 * i + 1] = Math.round(255 * GREEN[i]);
    out[3 * i + 2] = Math.round(255 * BLUE[i]);
  }
  return out;
})();

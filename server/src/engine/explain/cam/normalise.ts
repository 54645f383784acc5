/** The two ways a raw class map becomes a [0, 1] heatmap; `allZero` when it carries no spatial information. */
export interface NormalisedMap {
  map: Float32Array;
  allZero: boolean;
}

/** Grad-CAM's: ReLU (keep what speaks for the class), then divide by the maximum so 0 stays "no evidence". */
export function reluMaxNormalise(raw: Float32Array): NormalisedMap {
  let max = 0;
  for (const v of raw) if (v > max) max = v;
  const map = new Float32Array(raw.length);
  if (max <= 0) return { map, allZero: true };
  for (let i = 0; i < raw.length; i++) map[i] = raw[i] > 0 ? raw[i] / max : 0;
  return { map, allZero: false };
}

/**
 * CAM's: min-max, without Grad-CAM's ReLU, as in the CAM paper: the map is the logit's spatial layout, and for a class
 * whose logit is negative everywhere (typical when explaining a class that was not predicted) a ReLU would erase it,
 * whereas min-max keeps where the evidence is least against the class. A flat map is reported as allZero.
 */
export function minMaxNormalise(raw: Float32Array): NormalisedMap {
  let min = Infinity;
  let max = -Infinity;
  for (const v of raw) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const map = new Float32Array(raw.length);
  const range = max - min;
  if (!(range > 1e-12 * Math.max(1, Math.abs(max), Math.abs(min)))) return { map, allZero: true };
  for (let i = 0; i < raw.length; i++) map[i] = (raw[i] - min) / range;
  return { map, allZero: false };
}

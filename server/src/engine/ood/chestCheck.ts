import type { DecodedImage } from '../data/decode';

/**
 * Is this plausibly a frontal chest radiograph at all? Rules on what the decoder saw, each measured on everything in
 * ../shared (BENCHMARKS.md, "Out-of-distribution"): colour (X-rays stored as RGB have R = G = B up to compression noise:
 * mean max-min per pixel <= 0.018 on all 370 X-rays there; the photos are >= 0.135), DICOM Modality and
 * BodyPartExamined when present, a size no radiograph has, an extreme aspect ratio, or a blank image.
 */
export const MAX_COLOURFULNESS = 0.06;
export const MIN_SIDE_PX = 64;
export const MAX_ASPECT = 2.5;
export const MIN_SPREAD = 0.03;
/** Projection radiography modalities (CR computed, DX digital, RG radiographic imaging, DR as some vendors write it). */
export const RADIOGRAPH_MODALITIES = ['CR', 'DX', 'RG', 'DR'] as const;
const CHEST_BODY_PARTS = /^(CHEST|THORAX|LUNG|LUNGS|TORAX|THORAX_PA|PORT CHEST)$/;

export interface ChestCheck {
  /** null when nothing speaks against a chest radiograph. */
  reason: string | null;
  /** Colourfulness over its limit: > 1 means colour that no X-ray has. */
  colourScore: number;
}

export function checkChestRadiograph(decoded: DecodedImage): ChestCheck {
  const { colourfulness, spread } = colourAndSpread(decoded.data);
  const colourScore = colourfulness / MAX_COLOURFULNESS;
  const { width, height, dicom } = decoded.source;
  const reason = firstReason([
    dicom?.modality && !(RADIOGRAPH_MODALITIES as readonly string[]).includes(dicom.modality)
      ? `its DICOM Modality is ${dicom.modality}, not a projection radiograph (${RADIOGRAPH_MODALITIES.join(', ')})`
      : null,
    dicom?.bodyPart && !CHEST_BODY_PARTS.test(dicom.bodyPart) ? `its DICOM BodyPartExamined is ${dicom.bodyPart}, not the chest` : null,
    dicom?.viewPosition && /^(LL|RL|LAT|LATERAL|LLD|RLD)$/.test(dicom.viewPosition) ? `its DICOM ViewPosition is ${dicom.viewPosition} (lateral), not frontal` : null,
    colourScore > 1 ? `it is a colour image (colourfulness ${colourfulness.toFixed(3)}; X-rays are grey, at most ${MAX_COLOURFULNESS})` : null,
    Math.min(width, height) < MIN_SIDE_PX ? `it is ${width} x ${height} pixels, smaller than any radiograph` : null,
    Math.max(width / height, height / width) > MAX_ASPECT ? `its aspect ratio ${width} x ${height} is far from a chest film's` : null,
    spread < MIN_SPREAD ? 'it is nearly blank (almost no contrast)' : null,
  ]);
  return { reason: reason && `Not a chest radiograph: ${reason}.`, colourScore };
}

function firstReason(reasons: (string | null | undefined | '')[]): string | null {
  return reasons.find((r): r is string => typeof r === 'string' && r.length > 0) ?? null;
}

function colourAndSpread(rgb: Float32Array): { colourfulness: number; spread: number } {
  const n = rgb.length / 3;
  let colour = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i];
    const g = rgb[3 * i + 1];
    const b = rgb[3 * i + 2];
    colour += Math.max(r, g, b) - Math.min(r, g, b);
    const grey = (r + g + b) / 3;
    sum += grey;
    sq += grey * grey;
  }
  const mean = sum / n;
  return { colourfulness: colour / n, spread: Math.sqrt(Math.max(0, sq / n - mean * mean)) };
}

/**
 * Requests that feed the training form and the image views: every backbone's training defaults and freeze points,
 * and small thumbnails made here (webviews never load full images, and DICOM files show too).
 */
import type { Thumbnail, TrainingOptions } from '../../../common/src/protocol';
import { MAX_THUMBNAIL_SIZE, MIN_THUMBNAIL_SIZE, renderThumbnail } from '../engine/data/thumbnail';
import { freezePoints } from '../engine/models/freezePoints';
import { BACKBONES, findKnownWeights, METHOD_AUGMENTATION } from '../engine/models/registry';
import { BACKBONE_DESCRIPTIONS, BACKBONE_IDS, BATCH_NORM_MODES } from '../engine/names';
import { TRAINING_DEFAULTS } from '../engine/trainingRanges';
import { Params } from './params';
import type { PathGuard } from './pathGuard';

export const MAX_THUMBNAILS_PER_REQUEST = 200;
export const DEFAULT_THUMBNAIL_SIZE = 96;

const freezePointCache = new Map<string, string[]>();

/** Building a backbone (random weights) to list its cut points takes a moment: done once per backbone and process. */
function cachedFreezePoints(id: keyof typeof BACKBONES): string[] {
  let points = freezePointCache.get(id);
  if (!points) {
    const model = BACKBONES[id].build();
    try {
      points = freezePoints(model);
    } finally {
      model.dispose();
    }
    freezePointCache.set(id, points);
  }
  return points;
}

/** cxr/trainingOptions; needs the engine's tfjs backend initialised (the caller awaits engine.init()). */
export function trainingOptions(): TrainingOptions {
  return {
    backbones: BACKBONE_IDS.map((id) => {
      const spec = BACKBONES[id];
      return {
        backbone: id,
        label: BACKBONE_DESCRIPTIONS[id].detail,
        recipe: { ...spec.recipe, augment: spec.recipe.augment ? { ...spec.recipe.augment } : null },
        defaultFreezeAt: spec.defaultFreezeAt,
        freezePoints: cachedFreezePoints(id),
        imageSize: spec.defaultInputSize,
        weights: findKnownWeights(spec, 'noTop'),
        augmentWhenOn: { ...(spec.recipe.augment ?? METHOD_AUGMENTATION) },
      };
    }),
    valFraction: TRAINING_DEFAULTS.valFraction,
    seed: TRAINING_DEFAULTS.seed,
    batchNorm: BATCH_NORM_MODES[0],
  };
}

export function parseThumbnails(params: unknown, guard: PathGuard): { files: string[]; size: number } {
  const p = Params.of('cxr/thumbnails', params);
  const files = p.stringArray('files');
  if (files.length > MAX_THUMBNAILS_PER_REQUEST) throw p.invalid('files', `at most ${MAX_THUMBNAILS_PER_REQUEST} paths per request`);
  const size = p.optInteger('size', MIN_THUMBNAIL_SIZE) ?? DEFAULT_THUMBNAIL_SIZE;
  if (size > MAX_THUMBNAIL_SIZE) throw p.invalid('size', `a whole number from ${MIN_THUMBNAIL_SIZE} to ${MAX_THUMBNAIL_SIZE}`);
  return { files: files.map((f) => guard.check(f, 'image')), size };
}

/** cxr/thumbnails: one entry per file, in order; a file that cannot be decoded gets its error instead of failing all. */
export async function thumbnails(files: string[], size: number): Promise<Thumbnail[]> {
  const out: Thumbnail[] = [];
  for (const file of files) {
    try {
      const jpeg = await renderThumbnail(file, size);
      out.push({ file, dataUrl: `data:image/jpeg;base64,${jpeg.toString('base64')}` });
    } catch (e) {
      out.push({ file, dataUrl: null, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}

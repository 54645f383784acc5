import type { CamMethodName, ExcludedImage } from '../api';
import type { DatasetItem } from '../data/dataset';
import { forEachDecodedChunk } from '../inference/decodeAhead';
import { argMax } from '../inference/runModel';
import type { RunSession } from '../inference/runSession';
import { yieldToEventLoop } from '../util/concurrency';
import { upsampleBilinear, type CamGridTile } from './render';

/** Images per pass: the next chunk decodes while this one runs. */
const CHUNK = 16;

/**
 * The CAM grid's tiles from the run's warm session, a chunk of images per pass (a pooling + Dense head's maps of every
 * class come with the pass); null when the session cannot give every class's maps (other heads: one image at a time
 * through the tfjs CAM method, in the engine). Unreadable images are left out and listed.
 */
export async function camGridTilesBatched(
  session: RunSession,
  items: readonly DatasetItem[],
  method: CamMethodName,
): Promise<{ tiles: CamGridTile[]; unreadable: ExcludedImage[] } | null> {
  if (!session.hasAllClassMaps) return null;
  const { config } = session.loaded;
  const size = config.imageSize;
  const pixels = size * size * 3;
  const tiles: CamGridTile[] = [];
  const unreadable: ExcludedImage[] = [];
  await forEachDecodedChunk(items.map((i) => i.path), { size, chunk: CHUNK, skipUnreadable: true }, async (attempts, start) => {
    const readable: { image: Float32Array; item: DatasetItem }[] = [];
    attempts.forEach((a, k) => {
      if ('image' in a) readable.push({ image: a.image.data, item: items[start + k] });
      else unreadable.push({ file: a.file, code: a.error.code, reason: a.error.message });
    });
    if (readable.length === 0) return;
    const batch = new Float32Array(readable.length * pixels);
    readable.forEach((r, k) => batch.set(r.image, k * pixels));
    const maps = (await session.explainMany(batch, readable.length))!;
    readable.forEach((r, k) => {
      const m = maps[k];
      const predicted = argMax(m.probabilities);
      tiles.push({
        unitRgb: r.image,
        size,
        heatmap01: upsampleBilinear(m[method][predicted].map, m.width, m.height, size, size),
        predicted: config.classes[predicted],
        real: r.item.label,
      });
    });
    await yieldToEventLoop();
  });
  return { tiles, unreadable };
}

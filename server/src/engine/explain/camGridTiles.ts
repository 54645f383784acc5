import type { CamMethodName, ExcludedImage, RunConfig } from '../api';
import type { MapCache, StoredMaps } from '../cache/mapCache';
import type { DatasetItem } from '../data/dataset';
import { forEachDecodedChunk } from '../inference/decodeAhead';
import { argMax } from '../util/argMax';
import type { RunSession } from '../inference/runSession';
import { yieldToEventLoop } from '../util/concurrency';
import { upsampleBilinear, type CamGridTile } from './render';

/** Images per pass: the next chunk decodes while this one runs. */
const CHUNK = 16;

/** Where the grid's maps come from: the map cache first (what an evaluation stored), else the run's warm session. */
export interface GridMapSources {
  stored: MapCache | null;
  /** Opened on the first image the cache does not hold. */
  session: () => Promise<RunSession>;
}

/**
 * The CAM grid's tiles, a chunk of images at a time (the next chunk decodes while this one runs): each image's maps
 * from the map cache, or from one pass of the run's session for those it does not hold (a pooling + Dense head's maps
 * of every class come with the pass; they are stored for next time). Null when the session cannot give every
 * class's maps (other heads: one image at a time through the tfjs CAM method, in the engine). Unreadable images are
 * left out and listed.
 */
export async function camGridTilesBatched(
  items: readonly DatasetItem[],
  method: CamMethodName,
  config: Pick<RunConfig, 'imageSize' | 'classes'>,
  sources: GridMapSources,
): Promise<{ tiles: CamGridTile[]; unreadable: ExcludedImage[] } | null> {
  const size = config.imageSize;
  const pixels = size * size * 3;
  const tiles: CamGridTile[] = [];
  const unreadable: ExcludedImage[] = [];
  const stores: Promise<void>[] = [];
  let headless = false;
  await forEachDecodedChunk(items.map((i) => i.path), { size, chunk: CHUNK, skipUnreadable: true }, async (attempts, start) => {
    if (headless) return;
    const readable: { image: Float32Array; item: DatasetItem; key: string | null; maps: StoredMaps | null }[] = [];
    for (const [k, a] of attempts.entries()) {
      if (!('image' in a)) {
        unreadable.push({ file: a.file, code: a.error.code, reason: a.error.message });
        continue;
      }
      const key = sources.stored ? await sources.stored.keyOf(a.file).catch(() => null) : null;
      const maps = key ? await sources.stored!.get(key) : null;
      readable.push({ image: a.image.data, item: items[start + k], key, maps });
    }
    const missing = readable.filter((r) => r.maps === null);
    if (missing.length > 0) {
      const session = await sources.session();
      if (!session.hasAllClassMaps) {
        headless = true;
        return;
      }
      const batch = new Float32Array(missing.length * pixels);
      missing.forEach((r, k) => batch.set(r.image, k * pixels));
      const computed = (await session.explainMany(batch, missing.length))!;
      missing.forEach((r, k) => {
        r.maps = computed[k];
        if (r.key) stores.push(sources.stored!.put(r.key, computed[k]).catch(() => {}));
      });
    }
    for (const r of readable) {
      const m = r.maps!;
      const predicted = argMax(m.probabilities);
      tiles.push({
        unitRgb: r.image,
        size,
        heatmap01: upsampleBilinear(m[method][predicted].map, m.width, m.height, size, size),
        predicted: config.classes[predicted],
        real: r.item.label,
      });
    }
    await yieldToEventLoop();
  });
  await Promise.all(stores);
  return headless ? null : { tiles, unreadable };
}

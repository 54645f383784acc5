/**
 * Draws a [0,1] heatmap (row-major, feature-map resolution) over a whole canvas. The colours and the resize are the
 * engine's own functions (explain/render), so what the viewer shows is what `cxr cam` and Export PNG write.
 */
import { JET_BYTES, jetIndex } from '../../server/src/engine/explain/render/jet';
import { upsampleBilinear } from '../../server/src/engine/explain/render/upsample';

export interface HeatmapGrid {
  width: number;
  height: number;
  data: number[];
}

/**
 * One pixel at a time through the engine's 256-entry jet table as bytes: the same bytes as Math.round(255 * jet(v)),
 * with no array per pixel (a 640 x 640 image is 409,600 of them; the class switch must stay under 50 ms).
 */
export function drawHeatmap(target: HTMLCanvasElement, grid: HeatmapGrid): void {
  const ctx = target.getContext('2d');
  if (!ctx || grid.width <= 0 || grid.height <= 0 || target.width <= 0 || target.height <= 0) return;
  const heat = upsampleBilinear(Float32Array.from(grid.data), grid.width, grid.height, target.width, target.height);
  const pixels = ctx.createImageData(target.width, target.height);
  const data = pixels.data;
  for (let i = 0; i < heat.length; i++) {
    const v = heat[i];
    const o = i * 4;
    if (Number.isNaN(v)) {
      data[o] = data[o + 1] = data[o + 2] = 0; // jet(NaN) is black
    } else {
      const j = jetIndex(v) * 3;
      data[o] = JET_BYTES[j];
      data[o + 1] = JET_BYTES[j + 1];
      data[o + 2] = JET_BYTES[j + 2];
    }
    data[o + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
}

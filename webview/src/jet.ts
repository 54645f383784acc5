/**
 * Draws a [0,1] heatmap (row-major, feature-map resolution) over a whole canvas. The colours and the resize are the
 * engine's own functions (explain/render), so what the viewer shows is what `cxr cam` and Export PNG write.
 */
import { jet } from '../../server/src/engine/explain/render/jet';
import { upsampleBilinear } from '../../server/src/engine/explain/render/upsample';

export interface HeatmapGrid {
  width: number;
  height: number;
  data: number[];
}

export function drawHeatmap(target: HTMLCanvasElement, grid: HeatmapGrid): void {
  const ctx = target.getContext('2d');
  if (!ctx || grid.width <= 0 || grid.height <= 0 || target.width <= 0 || target.height <= 0) return;
  const heat = upsampleBilinear(Float32Array.from(grid.data), grid.width, grid.height, target.width, target.height);
  const pixels = ctx.createImageData(target.width, target.height);
  for (let i = 0; i < heat.length; i++) {
    const [r, g, b] = jet(heat[i]);
    pixels.data[i * 4] = Math.round(255 * r);
    pixels.data[i * 4 + 1] = Math.round(255 * g);
    pixels.data[i * 4 + 2] = Math.round(255 * b);
    pixels.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
}

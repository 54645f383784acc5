/** Draws a [0,1] heatmap (row-major, feature-map resolution) over a whole canvas in the jet colormap, smoothly upsampled. */
export interface HeatmapGrid {
  width: number;
  height: number;
  data: number[];
}

/** The classic jet colormap: 0 -> dark blue, 0.5 -> green/yellow, 1 -> dark red. */
export function jet(t: number): [number, number, number] {
  const v = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  const channel = (offset: number) => Math.round(255 * Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - offset))));
  return [channel(3), channel(2), channel(1)];
}

export function drawHeatmap(target: HTMLCanvasElement, grid: HeatmapGrid): void {
  const ctx = target.getContext('2d');
  if (!ctx || grid.width <= 0 || grid.height <= 0) return;
  const small = document.createElement('canvas');
  small.width = grid.width;
  small.height = grid.height;
  const smallCtx = small.getContext('2d');
  if (!smallCtx) return;
  const pixels = smallCtx.createImageData(grid.width, grid.height);
  for (let i = 0; i < grid.width * grid.height; i++) {
    const [r, g, b] = jet(grid.data[i] ?? 0);
    pixels.data[i * 4] = r;
    pixels.data[i * 4 + 1] = g;
    pixels.data[i * 4 + 2] = b;
    pixels.data[i * 4 + 3] = 255;
  }
  smallCtx.putImageData(pixels, 0, 0);
  ctx.clearRect(0, 0, target.width, target.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(small, 0, 0, target.width, target.height);
}

import sharp from 'sharp';
import { CxrError } from '../../errors';
import { blendOverlay, renderOverlayPng } from './overlay';

export interface CamGridTile {
  unitRgb: Float32Array;
  size: number;
  heatmap01: Float32Array;
  predicted: string;
  real: string;
}

export interface CamGridOptions {
  columns?: number;
  /** Side of each image in the grid, in pixels; defaults to the first tile's size. */
  tileSize?: number;
  title?: string;
}

export const GRID_COLOURS = { correct: '#008c00', wrong: '#d40000', text: '#202020', background: '#ffffff' } as const;
const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, sans-serif';
const GAP = 8;

/**
 * The method's figure: overlays in a grid, each under a "Predicted / Real" caption, green when they match and red
 * otherwise. Text is an SVG composited by sharp (librsvg + fontconfig; DejaVu Sans is the first choice).
 */
export async function renderCamGrid(tiles: CamGridTile[], opts: CamGridOptions = {}): Promise<Buffer> {
  if (tiles.length === 0) throw new CxrError('INVALID_ARGUMENT', 'A CAM grid needs at least one image.');
  const tileSize = opts.tileSize ?? tiles[0].size;
  const columns = Math.min(opts.columns ?? 6, tiles.length);
  if (!Number.isInteger(tileSize) || tileSize < 16) throw new CxrError('INVALID_ARGUMENT', `Tile size must be an integer >= 16; got ${tileSize}.`);
  if (!Number.isInteger(columns) || columns < 1) throw new CxrError('INVALID_ARGUMENT', `Columns must be a positive integer; got ${opts.columns}.`);

  const rows = Math.ceil(tiles.length / columns);
  const captionHeight = Math.max(16, Math.round(tileSize * 0.12));
  const fontSize = Math.round(captionHeight * 0.7);
  const titleHeight = opts.title ? Math.round(captionHeight * 1.6) : 0;
  const cellW = tileSize + GAP;
  const cellH = captionHeight + tileSize + GAP;
  const width = GAP + columns * cellW;
  const height = GAP + titleHeight + rows * cellH;

  const composites: sharp.OverlayOptions[] = [];
  const texts: string[] = [];
  if (opts.title) {
    texts.push(svgText(width / 2, GAP + titleHeight * 0.7, Math.round(fontSize * 1.25), GRID_COLOURS.text, opts.title));
  }
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    const left = GAP + (i % columns) * cellW;
    const top = GAP + titleHeight + Math.floor(i / columns) * cellH;
    if (t.size === tileSize) {
      // Raw pixels: no PNG to encode here and decode again in the composite.
      const rgb = blendOverlay(t.unitRgb, t.size, t.heatmap01);
      composites.push({ input: Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), raw: { width: t.size, height: t.size, channels: 3 }, left, top: top + captionHeight });
    } else {
      const png = await sharp(await renderOverlayPng(t.unitRgb, t.size, t.heatmap01)).resize(tileSize, tileSize, { kernel: 'cubic' }).png().toBuffer();
      composites.push({ input: png, left, top: top + captionHeight });
    }
    const colour = t.predicted === t.real ? GRID_COLOURS.correct : GRID_COLOURS.wrong;
    const caption = `${t.predicted} / ${t.real}`;
    // A nested <svg> clips its content, so a long caption can never spill into the neighbouring tile's.
    texts.push(
      `<svg x="${left}" y="${top}" width="${tileSize}" height="${captionHeight}">` +
        svgText(tileSize / 2, captionHeight * 0.78, fittingFontSize(caption, fontSize, tileSize), colour, caption) +
        '</svg>',
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`;
  composites.push({ input: Buffer.from(svg), left: 0, top: 0 });

  const composed = await sharp({ create: { width, height, channels: 3, background: GRID_COLOURS.background } })
    .composite(composites)
    .raw()
    .toBuffer({ resolveWithObject: true });
  // Compositing an SVG adds an alpha channel; the figure is opaque, so write plain RGB.
  return sharp(composed.data, { raw: { width, height, channels: composed.info.channels } }).removeAlpha().png().toBuffer();
}

/** Shrinks the font so the caption fits the tile, estimating DejaVu Sans Bold's mean advance at 0.65 em. */
function fittingFontSize(text: string, preferred: number, width: number): number {
  const fitting = Math.floor((width - 4) / (0.65 * Math.max(1, text.length)));
  return Math.max(6, Math.min(preferred, fitting));
}

function svgText(x: number, baseline: number, fontSize: number, fill: string, text: string): string {
  return `<text x="${x}" y="${baseline.toFixed(1)}" text-anchor="middle" font-family="${FONT_FAMILY}" font-size="${fontSize}" ` +
    `font-weight="bold" fill="${fill}">${escapeXml(text)}</text>`;
}

/** Escapes XML's five special characters and drops control characters, which XML 1.0 cannot carry at all. */
export function escapeXml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

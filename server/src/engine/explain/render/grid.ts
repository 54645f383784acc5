import sharp from 'sharp';
import { CxrError } from '../../errors';
import { blendOverlay } from './overlay';

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

  // The tiles are copied into one RGB canvas here; sharp only draws the text and encodes the PNG. Compositing 66
  // tiles and a canvas-sized SVG in libvips took about 0.5 s of the reference grid's 0.8 s.
  const canvas = new Uint8Array(width * height * 3);
  const background = hexRgb(GRID_COLOURS.background);
  for (let p = 0; p < width; p++) canvas.set(background, p * 3);
  for (let filled = width * 3; filled < canvas.length; filled *= 2) canvas.copyWithin(filled, 0, Math.min(filled, canvas.length - filled));
  // One SVG per band of text (the title, each row's captions): librsvg's cost grows with the area it draws.
  const bands: { top: number; height: number; texts: string[] }[] = [];
  if (opts.title) {
    bands.push({ top: GAP, height: titleHeight, texts: [svgText(width / 2, titleHeight * 0.7, Math.round(fontSize * 1.25), GRID_COLOURS.text, opts.title)] });
  }
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    const column = i % columns;
    const left = GAP + column * cellW;
    const top = GAP + titleHeight + Math.floor(i / columns) * cellH;
    const rgb = t.size === tileSize ? blendOverlay(t.unitRgb, t.size, t.heatmap01) : await resizedOverlay(t, tileSize);
    for (let y = 0; y < tileSize; y++) {
      canvas.set(rgb.subarray(y * tileSize * 3, (y + 1) * tileSize * 3), ((top + captionHeight + y) * width + left) * 3);
    }
    if (column === 0) bands.push({ top, height: captionHeight, texts: [] });
    const colour = t.predicted === t.real ? GRID_COLOURS.correct : GRID_COLOURS.wrong;
    const caption = `${t.predicted} / ${t.real}`;
    // A nested <svg> clips its content, so a long caption can never spill into the neighbouring tile's.
    bands.at(-1)!.texts.push(
      `<svg x="${left}" y="0" width="${tileSize}" height="${captionHeight}">` +
        svgText(tileSize / 2, captionHeight * 0.78, fittingFontSize(caption, fontSize, tileSize), colour, caption) +
        '</svg>',
    );
  }
  const composites: sharp.OverlayOptions[] = bands.map((band) => ({
    input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${band.height}">${band.texts.join('')}</svg>`),
    left: 0,
    top: band.top,
  }));

  // Compositing an SVG adds an alpha channel; the figure is opaque, so write plain RGB.
  return sharp(canvas, { raw: { width, height, channels: 3 } }).composite(composites).removeAlpha().png().toBuffer();
}

/** A tile of another size than the grid's, blended at its own size and resized to the grid's. */
async function resizedOverlay(t: CamGridTile, tileSize: number): Promise<Uint8Array> {
  const rgb = blendOverlay(t.unitRgb, t.size, t.heatmap01);
  return sharp(rgb, { raw: { width: t.size, height: t.size, channels: 3 } }).resize(tileSize, tileSize, { kernel: 'cubic' }).raw().toBuffer();
}

function hexRgb(hex: string): Uint8Array {
  const v = Number.parseInt(hex.slice(1), 16);
  return Uint8Array.of((v >> 16) & 255, (v >> 8) & 255, v & 255);
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

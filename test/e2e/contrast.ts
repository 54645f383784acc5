/**
 * Readability as WCAG 2.x defines it, measured on the rendered page: the contrast ratio of each piece of text (and of
 * chart colours) against the background actually behind it. Used by the theme test in views.test.ts.
 */
import type { FrameLocator } from 'playwright-core';

export type Rgba = [number, number, number, number];

/** WCAG 2.x relative luminance of an sRGB colour (0..255 channels). */
export function relativeLuminance([r, g, b]: readonly number[]): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio (1..21) of two opaque colours. */
export function contrastRatio(a: readonly number[], b: readonly number[]): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Parses the `rgb(...)` / `rgba(...)` / `#rrggbb[aa]` strings browsers give for computed colours. */
export function parseColor(css: string): Rgba | null {
  const s = css.trim();
  const hex = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(s);
  if (hex) {
    const v = parseInt(hex[1], 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255, hex[2] ? parseInt(hex[2], 16) / 255 : 1];
  }
  const fn = /^rgba?\(([^)]+)\)$/.exec(s);
  if (!fn) return null;
  const parts = fn[1].split(/[\s,/]+/).filter(Boolean).map((p) => (p.endsWith('%') ? (parseFloat(p) / 100) * 255 : parseFloat(p)));
  if (parts.length < 3 || parts.some((p) => !Number.isFinite(p))) return null;
  const alpha = parts.length >= 4 ? (fn[1].includes('%') && parts[3] > 1 ? parts[3] / 255 : parts[3]) : 1;
  return [parts[0], parts[1], parts[2], alpha];
}

/** `top` with its alpha composited over the opaque `bottom`. */
export function over(top: Rgba, bottom: readonly number[]): [number, number, number] {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)) as [number, number, number];
}

export interface TextSample {
  /** Short description for failure messages: tag#id.class "text". */
  what: string;
  color: string;
  /** Computed background colours from the element outwards, up to and including <body>'s. */
  backgrounds: string[];
  /** Product of the opacities of the element and its ancestors. */
  opacity: number;
  /** WCAG "large text": at least 24 px, or 18.66 px bold. */
  large: boolean;
}

/** Every visible element of the webview that holds text of its own, with the colours that decide its contrast. */
export async function sampleText(frame: FrameLocator): Promise<TextSample[]> {
  // Runs in the page; this Node-side project has no DOM typings, hence the `any`s.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  return frame.locator('body').evaluate((body: any) => {
    const samples: TextSample[] = [];
    const view = body.ownerDocument.defaultView;
    for (const el of Array.from(body.querySelectorAll('*')) as any[]) {
      // Web components (vscode-button, vscode-single-select, ...) draw their text in a shadow root with colours of
      // their own, which the host's computed style does not show; they follow VS Code's own theme tokens.
      let inComponent = false;
      for (let e = el; e && e !== body; e = e.parentElement) if (e.tagName.includes('-')) inComponent = true;
      if (inComponent) continue;
      const ownText = (Array.from(el.childNodes) as any[]).filter((n) => n.nodeType === 3).map((n) => n.textContent ?? '').join('').trim();
      if (!ownText || ['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName)) continue;
      const rect = el.getBoundingClientRect();
      const style = view.getComputedStyle(el);
      if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden') continue;
      const backgrounds: string[] = [];
      let opacity = 1;
      for (let e: any = el; e; e = e.parentElement) {
        const s = view.getComputedStyle(e);
        backgrounds.push(s.backgroundColor);
        opacity *= parseFloat(s.opacity);
        if (e === body) break;
      }
      const size = parseFloat(style.fontSize);
      const bold = parseInt(style.fontWeight, 10) >= 700;
      const id = el.id ? `#${el.id}` : '';
      const cls = el.classList.length ? `.${(Array.from(el.classList) as string[]).join('.')}` : '';
      samples.push({ what: `${el.tagName.toLowerCase()}${id}${cls} "${ownText.slice(0, 30)}"`, color: style.color, backgrounds, opacity, large: size >= 24 || (bold && size >= 18.66) });
    }
    return samples;
  });
}

/** Chart colours the dashboard reads from the theme (webview/src/theme.ts) and the page background, as rendered. */
export async function sampleChartColours(frame: FrameLocator): Promise<{ page: string; colours: Record<string, string> }> {
  return frame.locator('body').evaluate((body: any) => {
    const style = body.ownerDocument.defaultView.getComputedStyle(body);
    const colours: Record<string, string> = {};
    for (const name of ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-purple', '--vscode-charts-foreground']) {
      colours[name] = style.getPropertyValue(name).trim();
    }
    return { page: style.backgroundColor, colours };
  });
}

/** How many pixels of the canvas `selector` are within `tolerance` (per channel) of `rgb`. */
export async function canvasPixelsNear(frame: FrameLocator, selector: string, rgb: readonly number[], tolerance = 24): Promise<number> {
  return frame.locator(selector).evaluate((canvas: any, [r, g, b, tol]: number[]) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - r) <= tol && Math.abs(data[i + 1] - g) <= tol && Math.abs(data[i + 2] - b) <= tol) n++;
    }
    return n;
  }, [rgb[0], rgb[1], rgb[2], tolerance]);
}

/** The opaque colour behind an element: its backgrounds composited from <body> (over `pageBackground`) inwards. */
export function effectiveBackground(backgrounds: readonly string[], pageBackground: readonly number[]): [number, number, number] {
  let bg: [number, number, number] = [pageBackground[0], pageBackground[1], pageBackground[2]];
  for (const css of [...backgrounds].reverse()) {
    const c = parseColor(css);
    if (c && c[3] > 0) bg = over(c, bg);
  }
  return bg;
}

/** WCAG 2.x AA: 4.5:1 for text, 3:1 for large text. */
export function textContrast(sample: TextSample, pageBackground: readonly number[]): { ratio: number; needed: number } {
  const bg = effectiveBackground(sample.backgrounds, pageBackground);
  const fg = parseColor(sample.color) ?? [0, 0, 0, 1];
  const ratio = contrastRatio(over([fg[0], fg[1], fg[2], fg[3] * sample.opacity], bg), bg);
  return { ratio, needed: sample.large ? 3 : 4.5 };
}

/** Reads VS Code theme colours (CSS variables on the body) and reports theme switches. */
export function themeColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** VS Code swaps the body class (vscode-light / vscode-dark / vscode-high-contrast) and the variables on theme change. */
export function onThemeChange(handler: () => void): void {
  new MutationObserver(() => handler()).observe(document.body, { attributes: true, attributeFilter: ['class', 'style'] });
}

export interface ChartPalette {
  train: string;
  val: string;
  batch: string;
  foreground: string;
  grid: string;
}

/** The curves in the theme's chart colours, darkened or lightened where needed to reach 3:1 against the page
 * (WCAG non-text contrast): Light Modern's charts-orange is 2.9:1 on white. */
export function chartPalette(): ChartPalette {
  const page = parseRgb(getComputedStyle(document.body).backgroundColor) ?? [30, 30, 30];
  return {
    train: readableOn(themeColor('--vscode-charts-blue', '#3794ff'), page),
    val: readableOn(themeColor('--vscode-charts-orange', '#d18616'), page),
    batch: readableOn(themeColor('--vscode-charts-purple', '#b180d7'), page),
    foreground: themeColor('--vscode-charts-foreground', themeColor('--vscode-foreground', '#cccccc')),
    grid: themeColor('--vscode-charts-lines', 'rgba(128,128,128,0.3)'),
  };
}

/** One colour per compared run, from the theme's chart colours (each at 3:1 against the page), repeating after six. */
export function seriesColors(): string[] {
  const page = parseRgb(getComputedStyle(document.body).backgroundColor) ?? [30, 30, 30];
  return [
    ['--vscode-charts-blue', '#3794ff'],
    ['--vscode-charts-orange', '#d18616'],
    ['--vscode-charts-green', '#89d185'],
    ['--vscode-charts-purple', '#b180d7'],
    ['--vscode-charts-red', '#f14c4c'],
    ['--vscode-charts-yellow', '#cca700'],
  ].map(([name, fallback]) => readableOn(themeColor(name, fallback), page));
}

type Rgb = [number, number, number];

function parseRgb(css: string): Rgb | null {
  const hex = /^#([0-9a-f]{6})/i.exec(css.trim());
  if (hex) {
    const v = parseInt(hex[1], 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/.exec(css.trim());
  return fn ? [Number(fn[1]), Number(fn[2]), Number(fn[3])] : null;
}

function luminance([r, g, b]: Rgb): number {
  const lin = (c: number): number => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** `color` as it is when it reaches `minRatio` against `page`, else mixed step by step towards black or white. */
function readableOn(color: string, page: Rgb, minRatio = 3): string {
  const rgb = parseRgb(color);
  if (!rgb || contrast(rgb, page) >= minRatio) return color;
  const target: Rgb = luminance(page) > 0.5 ? [0, 0, 0] : [255, 255, 255];
  for (let t = 0.05; t <= 1; t += 0.05) {
    const mixed = rgb.map((c, i) => Math.round(c * (1 - t) + target[i] * t)) as Rgb;
    if (contrast(mixed, page) >= minRatio) return `rgb(${mixed.join(', ')})`;
  }
  return `rgb(${target.join(', ')})`;
}

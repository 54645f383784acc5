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

export function chartPalette(): ChartPalette {
  return {
    train: themeColor('--vscode-charts-blue', '#3794ff'),
    val: themeColor('--vscode-charts-orange', '#d18616'),
    batch: themeColor('--vscode-charts-purple', '#b180d7'),
    foreground: themeColor('--vscode-charts-foreground', themeColor('--vscode-foreground', '#cccccc')),
    grid: themeColor('--vscode-charts-lines', 'rgba(128,128,128,0.3)'),
  };
}

/**
 * ROC or precision-recall curves, one line per class, on a Chart.js canvas with both axes 0-1. The legend is HTML
 * (see evaluationCurves.ts), so it can be read, searched and checked for contrast; the canvas carries what it plots in
 * data attributes for tests and accessibility tools.
 */
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { chartPalette } from './theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

export interface XY {
  x: number;
  y: number;
}

export interface CurveSeries {
  label: string;
  color: string;
  points: XY[];
}

export class RocPrChart {
  private readonly chart: Chart<'line', XY[]>;

  constructor(canvas: HTMLCanvasElement, private readonly kind: 'roc' | 'pr') {
    const palette = chartPalette();
    this.chart = new Chart<'line', XY[]>(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        parsing: false,
        layout: { padding: { top: 6, right: 8 } },
        datasets: { line: { clip: 6 } },
        interaction: { mode: 'nearest', intersect: false },
        scales: scales(kind, palette.foreground, palette.grid),
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label ?? ''}: (${item.parsed.x?.toFixed(2)}, ${item.parsed.y?.toFixed(2)})`,
            },
          },
        },
      },
    });
  }

  /** Redraws the curves; `marker` is the chosen threshold's operating point, drawn on its class's curve. */
  update(series: CurveSeries[], marker: (XY & { color: string; label: string }) | null): void {
    const palette = chartPalette();
    // Fresh plain objects: the theme may have changed since the last draw.
    this.chart.options.scales = scales(this.kind, palette.foreground, palette.grid);
    const datasets: Chart<'line', XY[]>['data']['datasets'] = series.map((s) => ({
      label: s.label,
      data: s.points,
      borderColor: s.color,
      backgroundColor: s.color,
      borderWidth: 2,
      pointRadius: 0,
      // A precision-recall curve is a step: each point's precision holds over the recall it adds (average precision).
      stepped: this.kind === 'pr' ? ('before' as const) : false,
    }));
    if (this.kind === 'roc') {
      datasets.push({ label: 'chance', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: palette.grid, backgroundColor: palette.grid, borderWidth: 1, borderDash: [4, 4], pointRadius: 0 });
    }
    if (marker) {
      datasets.push({ label: marker.label, data: [{ x: marker.x, y: marker.y }], borderColor: palette.foreground, backgroundColor: marker.color, pointRadius: 6, pointHoverRadius: 7, borderWidth: 2, showLine: false });
    }
    this.chart.data.datasets = datasets;
    this.chart.update('none');
    const canvas = this.chart.canvas;
    canvas.dataset.series = String(series.length);
    canvas.dataset.points = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, s.points.length])));
    canvas.dataset.lineColors = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, s.color])));
    canvas.dataset.marker = marker ? `${marker.x.toFixed(4)},${marker.y.toFixed(4)}` : '';
  }
}

function scales(kind: 'roc' | 'pr', foreground: string, grid: string) {
  const axis = (title: string) => ({
    type: 'linear' as const,
    min: 0,
    max: 1,
    ticks: { color: foreground },
    grid: { color: grid },
    title: { display: true, text: title, color: foreground },
  });
  return kind === 'roc'
    ? { x: axis('false positive rate (1 − specificity)'), y: axis('true positive rate (sensitivity)') }
    : { x: axis('recall (sensitivity)'), y: axis('precision') };
}

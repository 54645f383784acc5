/** One metric of several runs on one chart: per run a colour, its training curve solid and its validation dashed. */
import { Chart } from 'chart.js';
import { applyAxisTheme, lineChartOptions, type Point } from './curveChart';
import { chartPalette, seriesColors } from './theme';

export interface OverlaySeries {
  label: string;
  train: Point[];
  val: Point[];
}

export class OverlayChart {
  private readonly chart: Chart<'line', Point[]>;
  private series: OverlaySeries[] = [];

  constructor(canvas: HTMLCanvasElement, private readonly opts: { percent: boolean }) {
    this.chart = new Chart<'line', Point[]>(canvas, { type: 'line', data: { datasets: [] }, options: lineChartOptions(opts.percent) });
    this.applyTheme();
  }

  applyTheme(): void {
    applyAxisTheme(this.chart, chartPalette());
    this.update(this.series);
  }

  update(series: OverlaySeries[]): void {
    this.series = series;
    const colors = seriesColors();
    this.chart.data.datasets = series.flatMap((s, i) => {
      const color = colors[i % colors.length];
      return [
        { label: `${s.label} · train`, data: s.train, borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 3 },
        { label: `${s.label} · validation`, data: s.val.filter((p) => p.y !== null), borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 3, borderDash: [6, 3] },
      ];
    });
    const lastX = Math.max(1, ...series.flatMap((s) => s.train.map((p) => p.x)));
    const xScale = this.chart.options.scales?.x;
    if (xScale) xScale.max = Math.ceil(lastX);
    this.chart.update('none');
    // What is drawn, readable from outside the canvas (tests, accessibility tools).
    const canvas = this.chart.canvas;
    canvas.dataset.series = JSON.stringify(this.chart.data.datasets.map((d) => d.label));
    canvas.dataset.lineColors = JSON.stringify(series.map((_, i) => colors[i % colors.length]));
    canvas.setAttribute(
      'aria-label',
      `${this.opts.percent ? 'Accuracy' : 'Loss'} per epoch of ${series.length} run${series.length === 1 ? '' : 's'}: ${series.map((s) => s.label).join(', ') || 'none selected'}; solid lines training, dashed validation`,
    );
  }
}

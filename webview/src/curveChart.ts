/** A Chart.js line chart of one metric: batch-level train samples, per-epoch train and per-epoch validation. */
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartOptions } from 'chart.js';
import { chartPalette, type ChartPalette } from './theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

export interface Point {
  x: number;
  y: number | null;
}

export class CurveChart {
  private readonly chart: Chart<'line', Point[]>;

  constructor(canvas: HTMLCanvasElement, private readonly opts: { percent: boolean }) {
    const palette = chartPalette();
    this.chart = new Chart<'line', Point[]>(canvas, {
      type: 'line',
      data: {
        datasets: [
          { label: 'train (batches)', data: [], borderColor: palette.batch, backgroundColor: palette.batch, borderWidth: 1, pointRadius: 0, tension: 0 },
          { label: 'train', data: [], borderColor: palette.train, backgroundColor: palette.train, borderWidth: 2, pointRadius: 3 },
          { label: 'validation', data: [], borderColor: palette.val, backgroundColor: palette.val, borderWidth: 2, pointRadius: 3, borderDash: [6, 3] },
        ],
      },
      options: lineChartOptions(opts.percent),
    });
    this.applyTheme();
  }

  /** Re-reads the theme's chart colours; VS Code changes the CSS variables when the user switches themes. */
  applyTheme(): void {
    const p = chartPalette();
    const [batch, train, val] = this.chart.data.datasets;
    batch.borderColor = batch.backgroundColor = p.batch;
    train.borderColor = train.backgroundColor = p.train;
    val.borderColor = val.backgroundColor = p.val;
    applyAxisTheme(this.chart, p);
    this.chart.update('none');
    // The colours the curves are drawn in, readable from outside the canvas (tests, accessibility tools).
    this.chart.canvas.dataset.lineColors = JSON.stringify({ train: p.train, val: p.val, batch: p.batch });
  }

  update(epochs: number, batches: Point[], train: Point[], val: Point[]): void {
    const [batch, trainSet, valSet] = this.chart.data.datasets;
    batch.data = batches;
    trainSet.data = train;
    valSet.data = val.filter((p) => p.y !== null);
    // The axis follows the data (a 200-epoch run would squeeze its first epochs into a corner); the progress bar
    // shows how far along the run is.
    const lastX = Math.max(1, ...batches.map((p) => p.x), ...train.map((p) => p.x));
    const xScale = this.chart.options.scales?.x;
    if (xScale) xScale.max = Math.min(Math.max(1, epochs), Math.max(1, Math.ceil(lastX)));
    this.chart.update('none');
    // What the chart plots, readable from outside the canvas (tests, accessibility tools).
    const canvas = this.chart.canvas;
    canvas.dataset.batchPoints = String(batch.data.length);
    canvas.dataset.epochPoints = String(trainSet.data.length);
    canvas.dataset.valPoints = String(valSet.data.length);
  }
}

/** The options every CXR line chart shares: linear epoch axis, a percent or plain y axis, line-sample legend. */
export function lineChartOptions(percent: boolean): ChartOptions<'line'> {
  return {
    animation: false,
    maintainAspectRatio: false,
    responsive: true,
    parsing: false,
    spanGaps: true,
    interaction: { mode: 'nearest', intersect: false },
    // Room for the points on the top (100%) and right (last epoch) edges, which the chart area would cut in half.
    layout: { padding: { top: 6, right: 8 } },
    datasets: { line: { clip: 6 } },
    scales: {
      x: { type: 'linear', min: 0, title: { display: true, text: 'epoch' }, ticks: { precision: 0 } },
      y: {
        type: 'linear',
        beginAtZero: percent,
        max: percent ? 1 : undefined,
        // Tick values are sums of float steps (1.4000000000000001): round them to what the axis can show.
        ticks: { callback: (v) => (percent ? `${Math.round(Number(v) * 100)}%` : String(Number(Number(v).toPrecision(4)))) },
      },
    },
    plugins: {
      // Line samples (dashed for validation) instead of Chart.js' default boxes, which turn a dashed border into a
      // jagged square.
      legend: { position: 'bottom', labels: { usePointStyle: true, pointStyle: 'line', pointStyleWidth: 28 } },
      tooltip: {
        callbacks: {
          label: (item) => {
            const y = item.parsed.y;
            const value = y === null ? '–' : percent ? `${(y * 100).toFixed(1)}%` : y.toFixed(4);
            return `${item.dataset.label ?? ''}: ${value}`;
          },
        },
      },
    },
  };
}

/** Axis, grid and legend colours from the theme; VS Code changes the CSS variables when the user switches themes. */
export function applyAxisTheme(chart: Chart<'line', Point[]>, p: ChartPalette): void {
  for (const axis of ['x', 'y'] as const) {
    const scale = chart.options.scales?.[axis];
    if (!scale) continue;
    scale.ticks = { ...scale.ticks, color: p.foreground };
    scale.grid = { ...scale.grid, color: p.grid };
    if ('title' in scale && scale.title) scale.title.color = p.foreground;
  }
  const legend = chart.options.plugins?.legend;
  if (legend?.labels) legend.labels.color = p.foreground;
}

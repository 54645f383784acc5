/**
 * The reliability diagram of an evaluation: for each band of top-class probability, how often the model was right
 * (bars) against how sure it was (dots), with the diagonal of perfect calibration. An SVG in the theme's chart colours;
 * the same numbers stay in a table beside it for screen readers and copying.
 */
import type { CalibrationReport, EvaluateResult } from '../../server/src/engine/api';
import { append, byId, clear, h } from './dom';
import { percent } from './format';

const SVG_NS = 'http://www.w3.org/2000/svg';
const SIZE = 220;
const PAD = 48;

function svg(tag: string, attrs: Record<string, string | number>, ...children: Element[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c);
  return el;
}

export function buildReliabilitySection(): HTMLElement {
  return h(
    'section',
    { id: 'reliability-section' },
    h('h2', { text: 'Reliability diagram' }),
    h('p', { id: 'reliability-summary', className: 'hint' }),
    h('div', { className: 'reliability' }, h('div', { id: 'reliability-chart' }), h('table', { id: 'reliability-table', className: 'data-table' })),
  );
}

export function renderReliability(r: EvaluateResult): void {
  const section = byId('reliability-section');
  const chosen: CalibrationReport | null = r.calibration?.calibrated ?? r.calibration?.raw ?? null;
  section.hidden = !chosen;
  if (!chosen || !r.calibration) return;
  const which = r.calibration.calibrated ? `after temperature scaling (T = ${r.calibration.temperature?.toFixed(3)})` : 'raw (no temperature saved with the run)';
  byId('reliability-summary').textContent =
    `${chosen.n} images, ${which}: expected calibration error ${chosen.ece.toFixed(3)}` +
    (r.calibration.calibrated ? ` (raw ${r.calibration.raw.ece.toFixed(3)})` : '') + '. Bars: accuracy in each confidence band; dots: mean confidence; on the diagonal they agree.';

  const scale = (v: number) => PAD + v * SIZE;
  const y = (v: number) => PAD + SIZE - v * SIZE;
  const plot = svg('svg', { viewBox: `0 0 ${SIZE + 2 * PAD} ${SIZE + 2 * PAD}`, width: SIZE + 2 * PAD, height: SIZE + 2 * PAD, role: 'img', 'aria-label': `Reliability diagram, expected calibration error ${chosen.ece.toFixed(3)}; the numbers are in the table` });
  plot.appendChild(svg('rect', { class: 'reliability-frame', x: PAD, y: PAD, width: SIZE, height: SIZE }));
  plot.appendChild(svg('line', { class: 'reliability-diagonal', x1: scale(0), y1: y(0), x2: scale(1), y2: y(1) }));
  for (const bin of chosen.bins) {
    if (!bin.count || bin.accuracy === null || bin.confidence === null) continue;
    const title = svg('title', {});
    title.textContent = `${percent(bin.low)}-${percent(bin.high)}: accuracy ${percent(bin.accuracy)}, confidence ${percent(bin.confidence)}, ${bin.count} images`;
    plot.appendChild(svg('rect', { class: 'reliability-bar', x: scale(bin.low) + 1, y: y(bin.accuracy), width: Math.max(1, (bin.high - bin.low) * SIZE - 2), height: bin.accuracy * SIZE }, title));
    plot.appendChild(svg('circle', { class: 'reliability-confidence', cx: scale((bin.low + bin.high) / 2), cy: y(bin.confidence), r: 4 }));
  }
  for (const v of [0, 0.5, 1]) {
    const tx = svg('text', { class: 'reliability-axis', x: scale(v), y: PAD + SIZE + 16, 'text-anchor': 'middle' });
    tx.textContent = percent(v);
    const ty = svg('text', { class: 'reliability-axis', x: PAD - 6, y: y(v) + 4, 'text-anchor': 'end' });
    ty.textContent = percent(v);
    plot.appendChild(tx);
    plot.appendChild(ty);
  }
  const chart = byId('reliability-chart');
  clear(chart);
  chart.appendChild(plot);

  const table = byId('reliability-table');
  clear(table);
  append(table, h('caption', { className: 'sr-only', text: 'Reliability diagram in numbers: accuracy per confidence band' }), h('thead', {}, h('tr', {}, ...['Confidence band', 'Images', 'Mean confidence', 'Accuracy'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))));
  const body = h('tbody');
  for (const bin of chosen.bins) {
    if (!bin.count) continue;
    append(body, h('tr', {}, h('th', { text: `${percent(bin.low)}-${percent(bin.high)}`, attrs: { scope: 'row' } }), h('td', { text: String(bin.count) }), h('td', { text: bin.confidence === null ? '-' : percent(bin.confidence) }), h('td', { text: bin.accuracy === null ? '-' : percent(bin.accuracy) })));
  }
  table.appendChild(body);
}

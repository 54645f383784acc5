/**
 * The evaluation's curves: ROC and precision-recall per class (one against the rest) with AUC, its bootstrap interval
 * and average precision in an HTML legend; and a threshold control for one class showing the resulting sensitivity and
 * specificity with Wilson intervals and the counts. The numbers come from the engine's own functions (eval/curves.ts)
 * over the operating points saved in evaluation.json.
 */
import type { ClassCurve, EvaluateResult } from '../../server/src/engine/api';
import { operatingPointAt, prPoints, rocPoints, type OperatingPoint } from '../../server/src/engine/eval/curves';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { append, byId, clear, h } from './dom';
import { fixed, interval, percent } from './format';
import { RocPrChart } from './rocPrChart';
import { onThemeChange, seriesColors } from './theme';

const ids = WebviewIds.evaluation;

export interface ThresholdSelection {
  className: string;
  value: number;
}

export const DEFAULT_THRESHOLD = 0.5;

let roc: RocPrChart | null = null;
let pr: RocPrChart | null = null;
/** What was drawn last, to redraw in the new colours when the theme changes. */
let lastDrawn: [EvaluateResult, ThresholdSelection | null] | null = null;

/** The two sections (curves, threshold); `onThreshold` gets every change the user makes. */
export function buildCurveSections(onThreshold: (selection: ThresholdSelection) => void): HTMLElement[] {
  const rocCanvas = h('canvas', { id: ids.rocChart, attrs: { role: 'img', 'aria-label': 'ROC curves, one per class', 'aria-describedby': ids.curveLegend } });
  const prCanvas = h('canvas', { id: ids.prChart, attrs: { role: 'img', 'aria-label': 'Precision-recall curves, one per class', 'aria-describedby': ids.curveLegend } });
  const curves = h(
    'section',
    { id: 'curves-section' },
    h('h2', { text: 'ROC and precision-recall curves (each class against the rest)' }),
    h(
      'div',
      { className: 'charts' },
      h('div', { className: 'chart-box' }, h('h3', { text: 'ROC' }), h('div', { className: 'chart-canvas' }, rocCanvas)),
      h('div', { className: 'chart-box' }, h('h3', { text: 'Precision-recall' }), h('div', { className: 'chart-canvas' }, prCanvas)),
    ),
    h('ul', { id: ids.curveLegend, className: 'curve-legend', attrs: { 'aria-label': 'Curve legend' } }),
    h('p', { id: 'curves-note', className: 'hint' }),
  );

  const select = h('select', { id: ids.thresholdClass, attrs: { 'aria-label': 'Positive class for the threshold' } });
  const slider = h('input', { id: ids.thresholdSlider, attrs: { type: 'range', min: '0', max: '1', step: '0.01' } });
  const input = h('input', { id: ids.thresholdInput, attrs: { type: 'number', min: '0', max: '1', step: '0.01', 'aria-label': 'Threshold value' } });
  const current = (): ThresholdSelection => ({ className: select.value, value: Number(slider.value) });
  select.addEventListener('change', () => onThreshold({ className: select.value, value: clamp(Number(input.value)) }));
  slider.addEventListener('input', () => onThreshold(current()));
  input.addEventListener('input', () => {
    const v = Number(input.value);
    if (input.value !== '' && Number.isFinite(v) && v >= 0 && v <= 1) onThreshold({ className: select.value, value: v });
  });
  input.addEventListener('change', () => onThreshold({ className: select.value, value: clamp(Number(input.value)) }));

  const card = (id: string, label: string) =>
    h('div', { className: 'card' }, h('div', { className: 'card-label', text: label }), h('div', { id, className: 'card-value' }), h('div', { id: `${id}-detail`, className: 'card-detail' }));
  const threshold = h(
    'section',
    { id: 'threshold-section' },
    h('h2', { text: 'Threshold' }),
    h('p', { id: 'threshold-explain', className: 'hint' }),
    h(
      'div',
      { className: 'toolbar controls threshold-controls' },
      h('label', { className: 'control' }, h('span', { text: 'Positive class' }), select),
      h('label', { className: 'control' }, h('span', { text: 'Threshold' }), slider),
      input,
    ),
    h(
      'div',
      { className: 'cards', attrs: { role: 'status', 'aria-live': 'polite' } },
      card(ids.sensitivity, 'Sensitivity (recall)'),
      card(ids.specificity, 'Specificity'),
      card('threshold-ppv', 'Precision (PPV)'),
      card('threshold-npv', 'NPV'),
    ),
    h('table', { id: ids.thresholdCounts, className: 'data-table counts' }),
  );
  return [curves, threshold];
}

/** 0.5 -> "0.5", 0.50137 -> "0.5014": what the number box shows. */
function thresholdText(v: number): string {
  return String(Number(v.toFixed(4)));
}

function clamp(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : DEFAULT_THRESHOLD;
}

/** The selection to show: the saved one when its class still exists, else the first class at 0.5. */
export function effectiveSelection(r: EvaluateResult, saved: ThresholdSelection | null): ThresholdSelection | null {
  const curves = r.curves ?? [];
  if (curves.length === 0) return null;
  if (saved && curves.some((c) => c.className === saved.className)) return { className: saved.className, value: clamp(saved.value) };
  return { className: curves[0].className, value: DEFAULT_THRESHOLD };
}

export function renderCurves(r: EvaluateResult, selection: ThresholdSelection | null): void {
  const curves = r.curves ?? [];
  // Made on first use, once the canvases are in the page (Chart.js sizes them from their container).
  if (!roc || !pr) {
    roc = new RocPrChart(byId<HTMLCanvasElement>(ids.rocChart), 'roc');
    pr = new RocPrChart(byId<HTMLCanvasElement>(ids.prChart), 'pr');
    onThemeChange(() => {
      if (lastDrawn) renderCurves(...lastDrawn);
    });
  }
  lastDrawn = [r, selection];
  const palette = seriesColors();
  const colors = curves.map((_, k) => palette[k % palette.length]);
  renderLegend(r, curves, colors);
  const chosen = selection ? curves.findIndex((c) => c.className === selection.className) : -1;
  const op = chosen >= 0 && selection ? operatingPointAt(curves[chosen], selection.value) : null;
  const rocSeries = curves.map((c, k) => ({ label: c.className, color: colors[k], points: rocPoints(c).map((p) => ({ x: p.fpr, y: p.tpr })) })).filter((s) => s.points.length > 0);
  const prSeries = curves.map((c, k) => ({ label: c.className, color: colors[k], points: prPoints(c).map((p) => ({ x: p.recall, y: p.precision })) })).filter((s) => s.points.length > 0);
  const markerLabel = selection ? `${selection.className} at threshold ${thresholdText(selection.value)}` : '';
  roc.update(rocSeries, op && op.specificity !== null && op.sensitivity !== null ? { x: 1 - op.specificity, y: op.sensitivity, color: colors[chosen], label: markerLabel } : null);
  pr.update(prSeries, op && op.sensitivity !== null && op.ppv !== null ? { x: op.sensitivity, y: op.ppv, color: colors[chosen], label: markerLabel } : null);
  byId('curves-note').textContent =
    curves.length === 0
      ? 'This evaluation has no curves.'
      : `${r.n} images. A curve needs images of the class and of the other classes; with few images each step is one image, and the curves are as uncertain as the intervals say.`;
  renderThreshold(r, curves, selection, op);
}

function renderLegend(r: EvaluateResult, curves: ClassCurve[], colors: string[]): void {
  const legend = byId(ids.curveLegend);
  clear(legend);
  curves.forEach((c, k) => {
    const swatch = h('span', { className: 'swatch', attrs: { 'aria-hidden': 'true' } });
    swatch.style.backgroundColor = colors[k];
    const ci = r.bootstrap?.perClassAuc?.[k] ?? null;
    const auc = c.auc === null ? 'ROC-AUC undefined (needs images of the class and of the others)' : `ROC-AUC ${fixed(c.auc, 3)}${ci ? ` (95% bootstrap CI ${fixed(ci.low, 2)}–${fixed(ci.high, 2)})` : ''}`;
    const ap = c.averagePrecision === null ? '' : ` · average precision ${fixed(c.averagePrecision, 3)}`;
    append(
      legend,
      h('li', { attrs: { 'data-class': c.className } }, swatch, h('strong', { text: c.className }), `: ${auc}${ap} · ${c.positives} of ${c.positives + c.negatives} images`),
    );
  });
  if (r.macro_auc !== null && curves.length > 0) {
    const ci = r.bootstrap?.macroAuc ?? null;
    append(legend, h('li', { className: 'macro' }, `Macro ROC-AUC ${fixed(r.macro_auc, 3)}${ci ? ` (95% bootstrap CI ${fixed(ci.low, 2)}–${fixed(ci.high, 2)})` : ''}`));
  }
}

function renderThreshold(r: EvaluateResult, curves: ClassCurve[], selection: ThresholdSelection | null, op: OperatingPoint | null): void {
  const select = byId<HTMLSelectElement>(ids.thresholdClass);
  const key = curves.map((c) => c.className).join('\u0000');
  if (select.dataset.classes !== key) {
    select.dataset.classes = key;
    clear(select);
    for (const c of curves) select.appendChild(h('option', { text: c.className, attrs: { value: c.className } }));
  }
  const slider = byId<HTMLInputElement>(ids.thresholdSlider);
  const input = byId<HTMLInputElement>(ids.thresholdInput);
  for (const el of [select, slider, input]) el.disabled = !selection;
  if (!selection || !op) return;
  const curve = curves.find((c) => c.className === selection.className)!;
  if (select.value !== selection.className) select.value = selection.className;
  if (Number(slider.value) !== selection.value) slider.value = String(selection.value);
  // While the user types, leave the box alone (reformatting "0." would fight the typing).
  if (document.activeElement !== input || Number(input.value) !== selection.value) input.value = thresholdText(selection.value);
  const name = selection.className;
  slider.setAttribute('aria-label', `Threshold on the probability of ${name}`);
  slider.setAttribute('aria-valuetext', `${thresholdText(selection.value)}: sensitivity ${percent(op.sensitivity)}, specificity ${percent(op.specificity)}`);
  byId('threshold-explain').textContent =
    `An image is called ${name} when its probability of ${name} is at least the threshold, against all other classes together ` +
    `(the confusion matrix above takes the most probable class instead). ${curve.positives} ${name} and ${curve.negatives} other images.`;
  const set = (id: string, value: number | null, detail: string) => {
    byId(id).textContent = percent(value);
    byId(`${id}-detail`).textContent = detail;
  };
  set(ids.sensitivity, op.sensitivity, `${op.tp} of ${curve.positives} ${name} images · ${interval(op.sensitivityCi)}`);
  set(ids.specificity, op.specificity, `${op.tn} of ${curve.negatives} other images · ${interval(op.specificityCi)}`);
  set('threshold-ppv', op.ppv, `${op.tp} of ${op.tp + op.fp} called ${name}`);
  set('threshold-npv', op.npv, `${op.tn} of ${op.tn + op.fn} called not ${name}`);

  const table = byId(ids.thresholdCounts);
  clear(table);
  append(
    table,
    h('caption', { text: `Counts at threshold ${thresholdText(selection.value)}: rows true class, columns the call` }),
    h('thead', {}, h('tr', {}, h('th', { text: '' }), h('th', { text: `called ${name}`, attrs: { scope: 'col' } }), h('th', { text: `called not ${name}`, attrs: { scope: 'col' } }))),
    h(
      'tbody',
      {},
      h('tr', {}, h('th', { text: `true ${name}`, attrs: { scope: 'row' } }), h('td', { text: `${op.tp} TP`, attrs: { 'data-count': 'tp' } }), h('td', { text: `${op.fn} FN`, attrs: { 'data-count': 'fn' } })),
      h('tr', {}, h('th', { text: `true other`, attrs: { scope: 'row' } }), h('td', { text: `${op.fp} FP`, attrs: { 'data-count': 'fp' } }), h('td', { text: `${op.tn} TN`, attrs: { 'data-count': 'tn' } })),
    ),
  );
}

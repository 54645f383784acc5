/**
 * Heatmap viewer (custom editor `cxr.heatmap`): the image with its class-activation map drawn on a canvas in the
 * jet colormap, so opacity changes need no round trip. The method and target class pickers switch locally between
 * the maps of every class and method that the reply carries (pooling + Dense heads); only a reply without them makes
 * the extension explain again.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { CamMethodName, ExplainResult } from '../../server/src/engine/api';
import { describeHeatmap, selectHeatmap } from '../../common/src/heatmapView';
import { HeatmapFromWebview, HeatmapState, HeatmapToWebview, WebviewIds } from '../../common/src/webviewProtocol';
import { append, byId, clear, h, liveAnnouncer, mainLandmark } from './dom';
import { percent } from './format';
import { drawHeatmap } from './jet';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

const ids = WebviewIds.heatmap;
const vscode = getVsCodeApi<HeatmapState, HeatmapFromWebview>();
let state: HeatmapState | null = vscode.getState() ?? null;
/** The options currently in the target picker, so it is rebuilt only when the model's classes change. */
let targetOptionsKey = '';
/** Whether the <img> has loaded its current source: until it has, no overlay is drawn on it (render resets this). */
let imageLoaded = false;

const METHODS: { value: CamMethodName; label: string; description: string }[] = [
  { value: 'cam', label: 'CAM', description: 'Class activation map: classifier weights times the last feature maps' },
  { value: 'gradcam', label: 'Grad-CAM', description: 'Gradient-weighted class activation map' },
];

function option(value: string, label: string, description = ''): HTMLElement {
  const el = h('vscode-option', { attrs: { value } }, label);
  if (description) el.setAttribute('description', description);
  return el;
}

function buildLayout(): void {
  const method = h('vscode-single-select', { id: ids.method, attrs: { label: 'Explanation method' } }, ...METHODS.map((m) => option(m.value, m.label, m.description))) as VscodeSingleSelect;
  method.addEventListener('change', () => requestExplain());
  const target = h('vscode-single-select', { id: ids.target, attrs: { label: 'Target class' } }, option('', 'Predicted class')) as VscodeSingleSelect;
  target.addEventListener('change', () => requestExplain());

  const slider = h('input', { id: ids.opacity, attrs: { type: 'range', min: '0', max: '1', step: '0.05', 'aria-label': 'Heatmap opacity' } });
  slider.addEventListener('input', () => {
    if (!state) return;
    state.opacity = Number(slider.value);
    applyOpacity();
  });
  slider.addEventListener('change', () => {
    if (!state) return;
    vscode.setState(state);
    vscode.postMessage({ type: 'opacity', opacity: state.opacity });
  });

  const exportButton = h('vscode-button', { id: ids.exportPng, title: 'Save the image with the heatmap overlay as a PNG file' }, 'Export PNG…') as VscodeButton;
  exportButton.addEventListener('click', exportPng);
  const pick = h('vscode-button', { id: ids.pickModel }, 'Pick a run…') as VscodeButton;
  pick.addEventListener('click', () => vscode.postMessage({ type: 'pickModel' }));

  append(
    mainLandmark(),
    h('div', { id: ids.researchNote, className: 'research-note compact', attrs: { role: 'note' } }, h('strong', { text: 'Research use only — not a diagnostic device. ' }), 'A heatmap shows where the model looked, not where disease is.'),
    h('header', { className: 'page-header' }, h('h1', { id: ids.predicted, text: '' }), h('div', { id: ids.trueLabel, className: 'true-label' }), h('div', { id: 'heatmap-meta', className: 'run-info' })),
    h('div', { id: ids.noModel, className: 'message' }, h('p', { text: 'No active model. Train a model, or pick a finished run to explain this image with.' }), pick),
    h('div', { id: 'heatmap-error', className: 'message error', attrs: { role: 'alert' } }),
    h('div', { id: ids.trust, className: 'message', attrs: { role: 'status' } }),
    h(
      'div',
      { className: 'toolbar controls' },
      h('label', { className: 'control' }, h('span', { text: 'Method' }), method),
      h('label', { className: 'control' }, h('span', { text: 'Target class' }), target),
      h('label', { className: 'control' }, h('span', { text: 'Opacity' }), slider, h('output', { id: 'opacity-value' })),
      exportButton,
      h('span', { id: 'export-status', className: 'hint', attrs: { role: 'status' } }),
      h('vscode-progress-ring', { id: 'heatmap-loading', attrs: { 'aria-label': 'Computing heatmap' } }),
    ),
    h(
      'div',
      { className: 'heatmap-layout' },
      h('div', { className: 'stage', id: 'heatmap-stage' }, h('img', { id: ids.image, attrs: { alt: '' } }), h('canvas', { id: ids.canvas, attrs: { role: 'img', 'aria-label': 'Heatmap overlay' } })),
      h('aside', { className: 'side' }, h('h2', { id: 'probabilities-title', text: 'Class probabilities' }), h('div', { id: ids.probabilities, className: 'prob-bars' }), h('p', { className: 'hint', text: 'Colour scale: blue = low, red = high contribution to the target class.' })),
    ),
  );
  byId<HTMLImageElement>(ids.image).addEventListener('load', () => {
    imageLoaded = true;
    fitImage();
    drawOverlay();
  });
  window.addEventListener('resize', fitImage);
}

/** Scales the image (up or down, aspect ratio kept) to the space left of the probabilities, below the controls. */
function fitImage(): void {
  const img = byId<HTMLImageElement>(ids.image);
  if (!img.naturalWidth) return;
  const stage = byId('heatmap-stage');
  const layout = stage.parentElement ?? document.body;
  const sideWidth = 300;
  const availableWidth = Math.max(200, layout.clientWidth - (layout.clientWidth > 700 ? sideWidth : 0));
  const availableHeight = Math.max(240, window.innerHeight - stage.getBoundingClientRect().top + window.scrollY - 16);
  const scale = Math.min(availableWidth / img.naturalWidth, availableHeight / img.naturalHeight, 4);
  img.style.width = `${Math.round(img.naturalWidth * scale)}px`;
  img.style.height = `${Math.round(img.naturalHeight * scale)}px`;
}

function requestExplain(): void {
  const method = (byId(ids.method) as VscodeSingleSelect).value as CamMethodName;
  const target = (byId(ids.target) as VscodeSingleSelect).value || null;
  if (!state || (method === state.method && target === state.target)) return;
  const started = performance.now();
  state.method = method;
  state.target = target;
  const selected = state.result && !state.loading ? selectHeatmap(state.result, method, target) : null;
  if (selected) {
    state.result = selected;
    // Only what a switch changes (the map and its caption): the prediction, trust box and probabilities stay.
    byId('heatmap-meta').textContent = metaLine(state);
    drawOverlay();
    announce(`${headline(selected)}. ${overlayDescription(selected)}.`);
    // How long the switch took in this webview: its own work, and until the next frame (the e2e test prints both; the target is 50 ms).
    const canvas = byId(ids.canvas);
    canvas.dataset.switchMs = (performance.now() - started).toFixed(1);
    canvas.dataset.switchFrameMs = '';
    requestAnimationFrame(() => (canvas.dataset.switchFrameMs = (performance.now() - started).toFixed(1)));
    const switched = state;
    setTimeout(() => vscode.setState(switched), 0); // the saved copy (with the image) need not delay the frame
    vscode.postMessage({ type: 'select', method, target });
    return;
  }
  state.loading = true;
  render();
  vscode.postMessage({ type: 'explain', method, target });
}

function applyOpacity(): void {
  const opacity = state?.opacity ?? 0.35;
  byId(ids.canvas).style.opacity = String(opacity);
  byId('opacity-value').textContent = `${Math.round(opacity * 100)}%`;
}

function render(): void {
  if (!state) return;
  vscode.setState(state);
  const s = state;
  const r = s.result;
  document.title = s.fileName;
  byId(ids.predicted).textContent = r ? headline(r) : s.model ? (s.loading ? 'Classifying…' : 'No prediction') : 'No active model';
  renderTrust(r);
  byId('heatmap-meta').textContent = metaLine(s);
  const trueLabel = byId(ids.trueLabel);
  trueLabel.hidden = !s.trueLabel;
  trueLabel.textContent = s.trueLabel ? `True label: ${s.trueLabel}${r ? (r.predicted === s.trueLabel ? ' (prediction correct)' : ' (prediction wrong)') : ''}` : '';
  byId(ids.noModel).hidden = s.model !== null;
  const error = byId('heatmap-error');
  error.textContent = s.error ?? '';
  error.hidden = !s.error;
  byId('heatmap-loading').hidden = !s.loading;

  const method = byId(ids.method) as VscodeSingleSelect;
  if (method.value !== s.method) method.value = s.method;
  renderTargetOptions(s);
  const slider = byId<HTMLInputElement>(ids.opacity);
  slider.value = String(s.opacity);
  applyOpacity();
  const controlsDisabled = !s.model;
  for (const id of [ids.method, ids.target, ids.exportPng]) (byId(id) as HTMLElement & { disabled: boolean }).disabled = controlsDisabled || (id === ids.exportPng && (!r || !s.imageSrc));
  slider.disabled = controlsDisabled;

  const img = byId<HTMLImageElement>(ids.image);
  img.alt = s.fileName;
  const src = s.imageSrc ?? '';
  if (img.getAttribute('src') !== src) {
    imageLoaded = false;
    if (src) img.src = src;
    else img.removeAttribute('src');
  }
  img.hidden = !src;
  drawOverlay();
  renderProbabilities(r);
  announce(s.loading ? 'Computing the heatmap…' : r ? `${headline(r)}. ${overlayDescription(r)}.` : '');
}

/** The overlay's text alternative: which map, and where it is strong. */
function overlayDescription(r: ExplainResult): string {
  return `${r.method === 'gradcam' ? 'Grad-CAM' : 'CAM'} heatmap for ${r.target}, ${describeHeatmap(r.heatmap)}`;
}

/** File, model, and which map is drawn: "0105.png · model: run · CAM for Covid". */
function metaLine(s: HeatmapState): string {
  const r = s.result;
  return [s.fileName, s.model ? `model: ${s.model.name}` : null, r ? `${r.method === 'gradcam' ? 'Grad-CAM' : 'CAM'} for ${r.target}` : null].filter(Boolean).join(' · ');
}

function renderTargetOptions(s: HeatmapState): void {
  const select = byId(ids.target) as VscodeSingleSelect;
  const classes = s.model?.classes ?? [];
  const key = classes.join('\u0000');
  if (key !== targetOptionsKey) {
    targetOptionsKey = key;
    clear(select);
    append(select, option('', 'Predicted class'), ...classes.map((c) => option(c, c)));
  }
  const value = s.target ?? '';
  if (select.value !== value) select.value = value;
}

/** The prediction as `cxr predict` words it: a refused input or an uncertain one never reads as a confident class. */
function headline(r: ExplainResult): string {
  const shown = r.calibratedProbabilities ?? r.probabilities;
  const top = `${r.predicted} (${percent(shown[r.predicted])})`;
  if (r.status === 'refused') return `Refused: ${r.ood?.notChestRadiograph ? 'not a chest radiograph' : 'unlike the training images'}`;
  return r.status === 'uncertain' ? `Uncertain: leaning ${top}` : top;
}

/** The out-of-distribution verdict and the calibrated confidence, in words. */
function renderTrust(r: ExplainResult | null): void {
  const box = byId(ids.trust);
  box.hidden = !r?.ood;
  box.className = `message ${r?.status ?? ''}`;
  box.dataset.status = r?.status ?? '';
  box.dataset.oodFlagged = String(r?.ood?.flagged ?? '');
  if (!r?.ood) return;
  const ood = r.ood;
  const calibrated = r.calibratedProbabilities?.[r.predicted];
  const confidence = calibrated === undefined ? '' : `Calibrated confidence ${percent(calibrated)} (raw ${percent(r.probabilities[r.predicted])}); below ${percent(r.abstainBelow ?? 0.6)} a prediction is uncertain.`;
  box.textContent = ood.flagged
    ? `${ood.reason ?? 'Outside what the model knows.'} The model's output is not a prediction for this image; the heatmap is shown for inspection only (OOD score ${ood.score.toFixed(2)}).`
    : `Looks like the training images (OOD score ${ood.score.toFixed(2)}; above 1 is refused). ${confidence}`;
}

function renderProbabilities(r: ExplainResult | null): void {
  const box = byId(ids.probabilities);
  clear(box);
  byId('probabilities-title').textContent = r?.status === 'refused' ? 'Model output (refused input)' : r?.calibratedProbabilities ? 'Class probabilities (calibrated)' : 'Class probabilities';
  if (!r) return;
  const entries = Object.entries(r.calibratedProbabilities ?? r.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of entries) {
    const fill = h('div', { className: 'prob-fill' });
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    append(
      box,
      h(
        'div',
        { className: name === r.predicted && r.status !== 'refused' ? 'prob-row predicted' : 'prob-row', attrs: { 'data-class': name } },
        h('span', { className: 'prob-name', text: name }),
        h('div', { className: 'prob-track', attrs: { role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '1', 'aria-valuenow': String(p), 'aria-valuetext': percent(p), 'aria-label': name } }, fill),
        h('span', { className: 'prob-value', text: percent(p) }),
      ),
    );
  }
}

function drawOverlay(): void {
  const img = byId<HTMLImageElement>(ids.image);
  const canvas = byId<HTMLCanvasElement>(ids.canvas);
  const r = state?.result;
  const imageShown = imageLoaded && img.naturalWidth > 0;
  canvas.hidden = !r || !imageShown;
  // What is drawn, and how many backend explain requests it took so far, for tests and assistive tools.
  canvas.dataset.method = r?.method ?? '';
  canvas.dataset.target = r?.target ?? '';
  canvas.dataset.backendExplains = String(state?.backendExplains ?? 0);
  canvas.setAttribute('aria-label', r ? overlayDescription(r) : 'Heatmap overlay');
  if (!r || !imageShown) return;
  const scale = Math.min(1, 1024 / Math.max(img.naturalWidth, img.naturalHeight));
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  drawHeatmap(canvas, r.heatmap);
  // When the image's first overlay was drawn (epoch ms): the e2e test times open-to-overlay from the command to here.
  if (canvas.dataset.overlayAt === undefined) {
    canvas.dataset.overlayAt = String(Date.now());
    canvas.dataset.overlayFile = state?.fileName ?? '';
  }
}

/** The backend renders the export at this opacity: the map upsampled onto the image's own pixels, at its own size. */
function exportPng(): void {
  if (!state?.result) return;
  byId('export-status').textContent = 'Exporting…';
  vscode.postMessage({ type: 'export', opacity: state.opacity });
}

buildLayout();
// Open-to-overlay in parts (epoch ms, read by the e2e test): the frame created, this script running, the first result
// here; when the panel is reused for another image, when that image's state arrived, its first result and overlay.
const timingCanvas = byId(ids.canvas);
timingCanvas.dataset.frameAt = String(Math.round(performance.timeOrigin));
timingCanvas.dataset.scriptAt = String(Date.now());
const announce = liveAnnouncer('heatmap-announcer');
onExtensionMessage<HeatmapToWebview>((message) => {
  if (message.type === 'state') {
    if (state && message.state.file !== state.file) {
      timingCanvas.dataset.imageAt = String(Date.now());
      delete timingCanvas.dataset.resultAt;
      delete timingCanvas.dataset.overlayAt;
    }
    if (message.state.result) timingCanvas.dataset.resultAt ??= String(Date.now());
    state = message.state;
    render();
  } else if (message.type === 'exported') {
    byId('export-status').textContent = message.path ? `Saved ${message.path}` : '';
  }
});
render();
vscode.postMessage({ type: 'ready' });

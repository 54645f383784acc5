/** Training dashboard: live loss/accuracy curves, run header, epoch table, Cancel. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeProgressBar } from '@vscode-elements/elements/dist/vscode-progress-bar/vscode-progress-bar.js';
import type { RunConfig } from '../../server/src/engine/api';
import {
  applyTrainEvent,
  DashboardFromWebview,
  DashboardState,
  DashboardToWebview,
  WebviewIds,
} from '../../common/src/webviewProtocol';
import { CurveChart } from './curveChart';
import { append, byId, clear, h, liveAnnouncer, mainLandmark } from './dom';
import { batchesDone, etaSeconds, formatDuration, phasePercent, trainingPercent } from '../../common/src/trainingProgress';
import { fixed, percent } from './format';
import { onThemeChange } from './theme';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

const ids = WebviewIds.dashboard;
const vscode = getVsCodeApi<DashboardState, DashboardFromWebview>();

let state: DashboardState | null = vscode.getState() ?? null;
let renderScheduled = false;
let lastRenderAt = 0;
/**
 * A tiny dataset trains an epoch in a tenth of a second and sends a batch and an epoch event each time: redrawing on
 * every one of them (two charts of thousands of points, the epoch table) kept the webview's process so busy that the
 * whole workbench lagged. A few redraws a second is all a person can follow.
 */
const MIN_RENDER_INTERVAL_MS = 200;

function buildLayout(): void {
  const cancel = h('vscode-button', { id: ids.cancel, title: 'Stop training after the current batch; the best model so far is kept.' }, 'Cancel training') as VscodeButton;
  cancel.secondary = true;
  cancel.disabled = true;
  cancel.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));

  const evaluate = h('vscode-button', { id: 'evaluate-run' }, 'Evaluate') as VscodeButton;
  evaluate.disabled = true;
  evaluate.addEventListener('click', () => vscode.postMessage({ type: 'evaluate' }));

  const logs = h('vscode-button', { id: 'show-logs' }, 'Show logs') as VscodeButton;
  logs.secondary = true;
  logs.addEventListener('click', () => vscode.postMessage({ type: 'showLogs' }));

  append(
    mainLandmark(),
    h(
      'header',
      { className: 'page-header' },
      h('div', { className: 'title-row' }, h('h1', { id: 'run-name', text: 'Training dashboard' }), h('vscode-badge', { id: ids.status }, 'idle')),
      h('div', { id: ids.runInfo, className: 'run-info' }),
      h('div', { className: 'toolbar' }, cancel, evaluate, logs),
      h(
        'div',
        { id: ids.phase, className: 'phase' },
        // Not a live region: it changes with every batch. The announcer below speaks phases, epochs and the end.
        h('span', { id: 'phase-text' }),
        h('span', { id: ids.eta, className: 'hint' }),
        h('vscode-progress-bar', { id: 'phase-progress', attrs: { 'aria-label': 'Training progress' } }),
      ),
    ),
    h('div', { id: 'error', className: 'message error', attrs: { role: 'alert' } }),
    h('ul', { id: 'warnings', className: 'warnings', attrs: { 'aria-label': 'Warnings' } }),
    h(
      'section',
      { className: 'charts' },
      h(
        'div',
        { className: 'chart-box' },
        h('h2', { text: 'Loss' }),
        h('div', { className: 'chart-canvas' }, h('canvas', { id: ids.lossChart, attrs: { role: 'img', 'aria-label': 'Training and validation loss per epoch', 'aria-describedby': 'epochs-caption' } }), h('p', { className: 'chart-empty' })),
      ),
      h(
        'div',
        { className: 'chart-box' },
        h('h2', { text: 'Accuracy' }),
        h('div', { className: 'chart-canvas' }, h('canvas', { id: ids.accuracyChart, attrs: { role: 'img', 'aria-label': 'Training and validation accuracy per epoch', 'aria-describedby': 'epochs-caption' } }), h('p', { className: 'chart-empty' })),
      ),
    ),
    h('details', { className: 'config-section' }, h('summary', {}, h('h2', { text: 'Configuration' })), h('div', { id: ids.config })),
    h(
      'section',
      {},
      h('h2', { text: 'Epochs' }),
      h(
        'table',
        { id: ids.epochTable, className: 'data-table' },
        h('caption', { id: 'epochs-caption', className: 'sr-only', text: 'Loss and accuracy per epoch, the numbers the charts above plot' }),
        h('thead', {}, h('tr', {}, ...['Epoch', 'Loss', 'Accuracy', 'Val loss', 'Val accuracy', 'Time'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
        h('tbody', {}),
      ),
    ),
  );
}

buildLayout();
const announce = liveAnnouncer('dashboard-announcer');
const lossChart = new CurveChart(byId<HTMLCanvasElement>(ids.lossChart), { percent: false });
const accuracyChart = new CurveChart(byId<HTMLCanvasElement>(ids.accuracyChart), { percent: true });
onThemeChange(() => {
  lossChart.applyTheme();
  accuracyChart.applyTheme();
});

function scheduleRender(): void {
  if (renderScheduled) return;
  renderScheduled = true;
  const wait = Math.max(0, lastRenderAt + MIN_RENDER_INTERVAL_MS - performance.now());
  setTimeout(
    () =>
      requestAnimationFrame(() => {
        renderScheduled = false;
        lastRenderAt = performance.now();
        render();
      }),
    wait,
  );
}

function render(): void {
  if (state) vscode.setState(state);
  const s = state;
  const run = s?.run ?? null;
  byId('run-name').textContent = run ? `Training: ${run.name}` : 'Training dashboard';
  renderRunInfo(s);
  renderStatus(s);
  renderPhase(s);
  renderMessages(s);
  renderTable(s);
  const epochs = Math.max(run?.epochs ?? 0, s?.position?.epochs ?? 0, s?.epochs.length ?? 0);
  lossChart.update(epochs, s?.batches.map((b) => ({ x: b.x, y: b.loss })) ?? [], s?.epochs.map((e) => ({ x: e.epoch, y: e.loss })) ?? [], s?.epochs.map((e) => ({ x: e.epoch, y: e.valLoss })) ?? []);
  accuracyChart.update(epochs, s?.batches.map((b) => ({ x: b.x, y: b.accuracy })) ?? [], s?.epochs.map((e) => ({ x: e.epoch, y: e.accuracy })) ?? [], s?.epochs.map((e) => ({ x: e.epoch, y: e.valAccuracy })) ?? []);
  renderEmptyCharts(s);
  announce(announcement(s));
}

/** What a screen reader hears: the phase, each finished epoch, and the end, never every batch. */
function announcement(s: DashboardState | null): string {
  if (!s?.run) return '';
  const last = s.epochs[s.epochs.length - 1];
  const epochs = Math.max(s.run.epochs, s.position?.epochs ?? 0);
  if (s.training) {
    if (s.phase?.phase === 'training' && last) {
      return `Epoch ${last.epoch} of ${epochs} done: validation accuracy ${percent(last.valAccuracy)}, validation loss ${fixed(last.valLoss, 3)}.`;
    }
    return s.phase?.message ? `Training ${s.run.name}: ${s.phase.message}.` : `Training ${s.run.name}.`;
  }
  const best = s.bestEpoch === null ? '' : `, best epoch ${s.bestEpoch}`;
  return `Training ${s.status}: ${s.epochs.length} of ${epochs} epochs run${best}.`;
}

/** Empty axes read as a broken chart: say why there is nothing to plot yet. */
function renderEmptyCharts(s: DashboardState | null): void {
  const empty = !s || (s.batches.length === 0 && s.epochs.length === 0);
  const text = !s?.run ? 'No run selected.' : s.training ? 'Waiting for the first batch…' : 'No epochs recorded for this run.';
  for (const note of document.querySelectorAll<HTMLElement>('.chart-empty')) {
    note.hidden = !empty;
    note.textContent = text;
  }
}

function renderRunInfo(s: DashboardState | null): void {
  const el = byId(ids.runInfo);
  clear(el);
  const run = s?.run;
  if (!run) {
    el.textContent = 'No run selected. Start one with "CXR: Train Model", or open a run from the Runs view.';
    return;
  }
  const items: [string, string][] = [
    ['Backbone', run.backbone],
    ['Data', run.data],
    ['Epochs', String(run.epochs)],
    ['Batch size', run.batchSize === null ? '–' : String(run.batchSize)],
    ['Learning rate', run.learningRate === null ? '–' : String(run.learningRate)],
    ['Classes', run.classes.join(', ') || '–'],
    ['Run folder', run.runDir],
  ];
  const dl = h('dl', { className: 'facts' });
  for (const [k, v] of items) append(dl, h('dt', { text: k }), h('dd', { text: v, title: v }));
  el.appendChild(dl);
  renderConfig(run.config);
}

/** Every value of the run's config.json, as the engine recorded it (defaults filled in). */
function renderConfig(c: RunConfig | undefined): void {
  const el = byId(ids.config);
  clear(el);
  if (!c) {
    el.textContent = 'The configuration shows once the run has written its config.json.';
    return;
  }
  const a = c.augment;
  const items: [string, string][] = [
    ['Backbone', c.backbone],
    ['Weights', c.weights ? `${c.weights}${c.pretrained ? '' : ' (not loaded yet)'}` : 'none: random initialisation'],
    ['Frozen up to layer', c.freezeAt],
    ['Batch-norm mode', c.batchNorm ?? 'batch (runs made before the option existed)'],
    ['Image size', `${c.imageSize} x ${c.imageSize}`],
    ['Epochs', String(c.epochs)],
    ['Batch size', String(c.batchSize)],
    ['Learning rate', String(c.learningRate)],
    ['Momentum', String(c.momentum)],
    ['Augmentation', a ? `rotation ±${a.rotationDeg}°, width shift ${a.widthShift}, height shift ${a.heightShift}, zoom ${a.zoom}` : 'off'],
    ['Validation fraction', String(c.valFraction)],
    ['Seed', String(c.seed)],
    ['Split', `train ${c.split.train} · validation ${c.split.val} · test ${c.split.test}${c.split.groupedByPatient ? ' (grouped by patient)' : ''}`],
    ['Classes', c.classes.join(', ')],
    ['Data', c.data],
    ['Device', c.device ? `${c.device.backend}` : '–'],
    ['Created', c.createdAt],
  ];
  const dl = h('dl', { className: 'facts' });
  for (const [k, v] of items) append(dl, h('dt', { text: k }), h('dd', { text: v, title: v, attrs: { 'data-key': k } }));
  el.appendChild(dl);
}

function renderStatus(s: DashboardState | null): void {
  byId(ids.status).textContent = s?.status ?? 'idle';
  (byId(ids.cancel) as VscodeButton).disabled = !s?.training;
  (byId('evaluate-run') as VscodeButton).disabled = !s?.run || s.training || s.epochs.length === 0;
}

function renderPhase(s: DashboardState | null): void {
  const text = byId('phase-text');
  const bar = byId('phase-progress') as VscodeProgressBar;
  const pos = s?.position;
  const phase = s?.phase;
  const parts: string[] = [];
  if (phase && (s.training || phase.phase === 'finished')) {
    const counted = s.training && phase.done !== undefined && phase.total !== undefined && phase.phase !== 'training';
    parts.push(counted ? `${phase.message} (${phase.done}/${phase.total})` : phase.message);
  }
  if (s?.training && pos) parts.push(`epoch ${pos.epoch}/${pos.epochs} · batch ${pos.batch}/${pos.batches} (${batchesDone(pos)}/${pos.epochs * pos.batches} batches)`);
  if (s?.bestEpoch) parts.push(`best epoch ${s.bestEpoch}`);
  text.textContent = parts.join(' · ');
  byId(ids.eta).textContent = s?.training ? etaText(s) : '';
  bar.hidden = !s?.training;
  const counted = phasePercent(phase?.done, phase?.total);
  if (s?.training && pos && phase?.phase === 'training') {
    bar.indeterminate = false;
    bar.max = 100;
    bar.value = trainingPercent(pos);
  } else if (s?.training && counted !== undefined) {
    bar.indeterminate = false;
    bar.max = 100;
    bar.value = counted;
  } else {
    bar.indeterminate = true;
  }
}

/** "about 2 min 10 s left in this phase", from the pace since the phase (or its first batch) began. */
function etaText(s: DashboardState): string {
  const phase = s.phase;
  if (!phase?.startedAt) return '';
  const elapsed = Date.now() - phase.startedAt;
  let eta: number | undefined;
  let what = 'in this phase';
  if (phase.phase === 'training' && s.position) {
    eta = etaSeconds(batchesDone(s.position), s.position.epochs * s.position.batches, phase.startDone ?? 0, elapsed);
    what = 'of training';
  } else if (phase.done !== undefined && phase.total !== undefined) {
    eta = etaSeconds(phase.done, phase.total, 0, elapsed);
  }
  return eta === undefined ? '' : `about ${formatDuration(eta)} left ${what}`;
}

function renderMessages(s: DashboardState | null): void {
  const error = byId('error');
  error.textContent = s?.error ?? '';
  error.hidden = !s?.error;
  const warnings = byId('warnings');
  clear(warnings);
  for (const w of s?.warnings ?? []) warnings.appendChild(h('li', { text: w }));
}

/** The epoch table grows by appending rows; only a change of history (another run, a resume) rebuilds it. */
function renderTable(s: DashboardState | null): void {
  const body = byId(ids.epochTable).querySelector('tbody');
  if (!body) return;
  const epochs = s?.epochs ?? [];
  const best = s?.bestEpoch ?? null;
  const shown = body.rows.length;
  const prefixKept = shown <= epochs.length && [...body.rows].every((tr, i) => tr.dataset.key === epochKey(epochs[i]));
  if (!prefixKept) clear(body);
  for (const e of epochs.slice(prefixKept ? shown : 0)) {
    append(
      body,
      h(
        'tr',
        { attrs: { 'data-epoch': String(e.epoch), 'data-key': epochKey(e) } },
        h('td', { text: String(e.epoch) }),
        h('td', { text: fixed(e.loss, 4) }),
        h('td', { text: percent(e.accuracy) }),
        h('td', { text: fixed(e.valLoss, 4) }),
        h('td', { text: percent(e.valAccuracy) }),
        h('td', { text: e.seconds < 1 ? `${Math.round(e.seconds * 1000)} ms` : `${e.seconds.toFixed(1)} s` }),
      ),
    );
  }
  for (const tr of body.rows) {
    const isBest = tr.dataset.epoch === String(best);
    if (tr.classList.contains('best') === isBest) continue;
    tr.classList.toggle('best', isBest);
    tr.title = isBest ? 'Best validation epoch (saved model)' : '';
    tr.cells[0].textContent = isBest ? `${tr.dataset.epoch} ★` : (tr.dataset.epoch ?? '');
  }
}

function epochKey(e: { epoch: number; loss: number; seconds: number }): string {
  return `${e.epoch}:${e.loss}:${e.seconds}`;
}

onExtensionMessage<DashboardToWebview>((message) => {
  switch (message.type) {
    case 'state':
      state = message.state;
      break;
    case 'trainEvent':
      if (!state || state.run?.runDir !== message.runDir) return;
      applyTrainEvent(state, message.event);
      break;
    case 'finished':
      if (!state || state.run?.runDir !== message.runDir) return;
      state.training = false;
      state.status = message.status;
      state.error = message.error;
      if (message.bestEpoch !== null) state.bestEpoch = message.bestEpoch;
      break;
  }
  scheduleRender();
});

render();
vscode.postMessage({ type: 'ready' });

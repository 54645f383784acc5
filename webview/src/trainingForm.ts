/**
 * Training form: every knob of a training with its recipe's default, checked as the user types (the same check the
 * extension runs before it sends cxr/train). Native form controls, each with its <label>, its error message tied to it
 * with aria-describedby and aria-invalid, so keyboards and screen readers get the whole form.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import { BATCH_NORM_MODES } from '../../server/src/engine/names';
import { rangeText } from '../../server/src/engine/trainingRanges';
import {
  backboneOptions,
  checkTrainingForm,
  recipeValues,
  RESTRICTED_MODE_MESSAGE,
  TrainingFormIds as ids,
  type TrainingFormField,
  type TrainingFormFromWebview,
  type TrainingFormState,
  type TrainingFormToWebview,
  type TrainingFormValues,
} from '../../common/src/trainingForm';
import { append, byId, clear, h, mainLandmark } from './dom';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

const vscode = getVsCodeApi<TrainingFormState, TrainingFormFromWebview>();
let state: TrainingFormState | null = vscode.getState() ?? null;
let changeTimer: ReturnType<typeof setTimeout> | undefined;

const BATCH_NORM_LABELS: Record<string, string> = {
  inference: 'inference: moving statistics (Keras transfer-learning guide)',
  batch: 'batch: statistics of each batch',
};

interface NumberSpec {
  field: TrainingFormField & keyof typeof NUMBER_HINTS;
  label: string;
}

const NUMBER_HINTS = {
  epochs: rangeText('epochs'),
  batchSize: rangeText('batchSize'),
  learningRate: `${rangeText('learningRate')}; SGD`,
  momentum: rangeText('momentum'),
  valFraction: `${rangeText('valFraction')}; carved from train, stratified`,
  seed: `${rangeText('seed')}; the same seed gives the same split and start`,
  rotationDeg: `degrees, ${rangeText('rotationDeg')}`,
  widthShift: `fraction of the width, ${rangeText('widthShift')}`,
  heightShift: `fraction of the height, ${rangeText('heightShift')}`,
  zoom: `scale drawn from [1 - zoom, 1 + zoom], ${rangeText('zoom')}`,
} as const;

function describedBy(field: TrainingFormField): string {
  return `${ids.error(field)} ${ids.field(field)}-hint`;
}

/** A labelled row: label, control, hint and the (live) error message of `field`. */
function row(field: TrainingFormField, label: string, control: HTMLElement, hint = '', extra?: HTMLElement): HTMLElement {
  control.id = ids.field(field);
  control.setAttribute('aria-describedby', describedBy(field));
  control.dataset.field = field;
  return h(
    'div',
    { className: 'form-row' },
    h('label', { attrs: { for: ids.field(field) } }, label),
    h('div', { className: 'form-control' }, control, extra ?? null),
    h('div', { id: `${ids.field(field)}-hint`, className: 'hint' }, hint),
    h('div', { id: ids.error(field), className: 'field-error', attrs: { 'aria-live': 'polite' } }),
  );
}

function numberRow({ field, label }: NumberSpec): HTMLElement {
  const input = h('input', { attrs: { type: 'text', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false' } });
  input.addEventListener('input', onInput);
  return row(field, label, input, NUMBER_HINTS[field]);
}

function select(field: TrainingFormField): HTMLSelectElement {
  const el = h('select', {});
  el.addEventListener('change', () => {
    if (field === 'backbone') onBackboneChange();
    onInput();
  });
  return el;
}

function buildLayout(): void {
  const start = h('vscode-button', { id: ids.start }, 'Start training') as VscodeButton;
  start.addEventListener('click', () => onStart());
  const reset = h('vscode-button', { id: ids.reset, title: "Every value back to the selected backbone's recipe (dataset and weights file kept)" }, 'Reset to recipe defaults') as VscodeButton;
  reset.secondary = true;
  reset.addEventListener('click', () => onReset());
  const browse = h('vscode-button', { id: ids.browseWeights, title: 'Choose a weights file' }, 'Browse…') as VscodeButton;
  browse.secondary = true;
  browse.addEventListener('click', () => vscode.postMessage({ type: 'browseWeights', values: readValues() }));

  const weights = h('input', { attrs: { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'the backbone’s ImageNet weights' } });
  weights.addEventListener('input', onInput);
  const augment = h('input', { attrs: { type: 'checkbox' } });
  augment.addEventListener('change', () => {
    renderAugmentEnabled();
    onInput();
  });

  const form = h(
    'form',
    { id: ids.form, attrs: { 'aria-label': 'Training configuration', novalidate: '' } },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Data'),
      row('dataset', 'Dataset', select('dataset')),
      numberRow({ field: 'valFraction', label: 'Validation fraction' }),
      numberRow({ field: 'seed', label: 'Seed' }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Model'),
      row('backbone', 'Backbone', select('backbone')),
      row('weights', 'Weights file', weights, '', browse),
      row('freezeAt', 'Freeze up to layer', select('freezeAt'), 'This layer and every layer before it stay frozen (block boundaries only).'),
      row('batchNorm', 'Batch-norm mode', select('batchNorm'), 'How BatchNorm layers after the freeze point train.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Optimiser'),
      numberRow({ field: 'epochs', label: 'Epochs' }),
      numberRow({ field: 'batchSize', label: 'Batch size' }),
      numberRow({ field: 'learningRate', label: 'Learning rate' }),
      numberRow({ field: 'momentum', label: 'Momentum' }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Augmentation'),
      row('augment', 'Augment training images', augment, 'Random rotation, shift and zoom on every batch (Keras ImageDataGenerator).'),
      numberRow({ field: 'rotationDeg', label: 'Rotation' }),
      numberRow({ field: 'widthShift', label: 'Width shift' }),
      numberRow({ field: 'heightShift', label: 'Height shift' }),
      numberRow({ field: 'zoom', label: 'Zoom' }),
    ),
    h('div', { id: ids.summary, className: 'message error', attrs: { role: 'alert' } }),
    h('div', { className: 'toolbar' }, start, reset),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onStart();
  });

  append(
    mainLandmark(),
    h('header', { className: 'page-header' }, h('h1', { text: 'Configure training' })),
    h('div', { id: ids.restricted, className: 'message error', attrs: { role: 'status' } }, RESTRICTED_MODE_MESSAGE),
    h('div', { id: ids.message, className: 'message', attrs: { role: 'status', 'aria-live': 'polite' } }),
    form,
    h('p', { className: 'research-note compact' }, 'Research use only: a model trained here is not a medical device.'),
  );
}

function control<T extends HTMLElement = HTMLInputElement>(field: TrainingFormField): T {
  return byId<T>(ids.field(field));
}

function readValues(): TrainingFormValues {
  const text = (f: TrainingFormField) => control<HTMLInputElement | HTMLSelectElement>(f).value;
  return {
    dataset: text('dataset'),
    backbone: text('backbone') as TrainingFormValues['backbone'],
    weights: text('weights'),
    freezeAt: text('freezeAt'),
    epochs: text('epochs'),
    batchSize: text('batchSize'),
    learningRate: text('learningRate'),
    momentum: text('momentum'),
    augment: control<HTMLInputElement>('augment').checked,
    rotationDeg: text('rotationDeg'),
    widthShift: text('widthShift'),
    heightShift: text('heightShift'),
    zoom: text('zoom'),
    valFraction: text('valFraction'),
    seed: text('seed'),
    batchNorm: text('batchNorm') as TrainingFormValues['batchNorm'],
  };
}

function setOptions(el: HTMLSelectElement, options: { value: string; label: string }[], selected: string): void {
  const key = options.map((o) => `${o.value}\u0000${o.label}`).join('\u0001');
  if (el.dataset.key !== key) {
    clear(el);
    for (const o of options) el.appendChild(h('option', { attrs: { value: o.value } }, o.label));
    el.dataset.key = key;
  }
  el.value = selected;
}

function fillFreezePoints(backbone: string, selected: string): void {
  const points = state?.options ? backboneOptions(state.options, backbone).freezePoints : [selected];
  const def = state?.options ? backboneOptions(state.options, backbone).defaultFreezeAt : '';
  setOptions(control<HTMLSelectElement>('freezeAt'), points.map((p) => ({ value: p, label: p === def ? `${p} (recipe default)` : p })), selected);
}

function render(): void {
  if (!state) return;
  vscode.setState(state);
  const s = state;
  const v = s.values;
  setOptions(
    control<HTMLSelectElement>('dataset'),
    s.datasets.length ? s.datasets.map((d) => ({ value: d.path, label: `${d.label} (${d.classes.length} classes, ${d.total} images)` })) : [{ value: '', label: 'No dataset found' }],
    v.dataset,
  );
  setOptions(
    control<HTMLSelectElement>('backbone'),
    (s.options?.backbones ?? []).map((b) => ({ value: b.backbone, label: b.label })),
    v.backbone,
  );
  fillFreezePoints(v.backbone, v.freezeAt);
  setOptions(control<HTMLSelectElement>('batchNorm'), BATCH_NORM_MODES.map((m) => ({ value: m, label: BATCH_NORM_LABELS[m] ?? m })), v.batchNorm);
  for (const f of ['weights', 'epochs', 'batchSize', 'learningRate', 'momentum', 'rotationDeg', 'widthShift', 'heightShift', 'zoom', 'valFraction', 'seed'] as const) {
    control(f).value = v[f];
  }
  control('augment').checked = v.augment;
  renderWeightsHint();
  renderAugmentEnabled();
  byId(ids.restricted).hidden = s.trusted;
  const message = byId(ids.message);
  message.textContent = s.message?.text ?? '';
  message.className = `message${s.message?.kind === 'error' ? ' error' : ''}`;
  message.hidden = !s.message;
  (byId(ids.start) as VscodeButton).disabled = !s.trusted || !s.options;
  renderProblems(false);
}

function renderWeightsHint(): void {
  const backbone = control<HTMLSelectElement>('backbone').value;
  const found = state?.options ? backboneOptions(state.options, backbone).weights : null;
  byId(`${ids.field('weights')}-hint`).textContent = found
    ? `Leave empty for ${found}.`
    : 'No ImageNet weights found for this backbone: leave empty only to train from random weights (run "CXR: Get Backbone Weights").';
}

function renderAugmentEnabled(): void {
  const on = control('augment').checked;
  for (const f of ['rotationDeg', 'widthShift', 'heightShift', 'zoom'] as const) control(f).disabled = !on;
}

/** Shows each field's problem (`all`: the summary too, after a Start); returns the first invalid field. */
function renderProblems(all: boolean): TrainingFormField | undefined {
  if (!state) return undefined;
  const { problems } = checkTrainingForm(readValues(), state.options, state.datasets);
  let first: TrainingFormField | undefined;
  for (const el of document.querySelectorAll<HTMLElement>('[data-field]')) {
    const field = el.dataset.field as TrainingFormField;
    const problem = problems[field];
    byId(ids.error(field)).textContent = problem ?? '';
    if (problem) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
    if (problem && !first) first = field;
  }
  const summary = byId(ids.summary);
  const count = Object.keys(problems).length;
  summary.textContent = all && count ? `${count} value${count === 1 ? ' needs' : 's need'} fixing before the training can start.` : '';
  summary.hidden = !summary.textContent;
  return first;
}

function onInput(): void {
  renderWeightsHint();
  renderProblems(false);
  if (state) state.values = readValues();
  if (changeTimer) clearTimeout(changeTimer);
  changeTimer = setTimeout(() => vscode.postMessage({ type: 'change', values: readValues() }), 250);
}

function onBackboneChange(): void {
  const backbone = control<HTMLSelectElement>('backbone').value;
  const current = control<HTMLSelectElement>('freezeAt').value;
  const b = state?.options ? backboneOptions(state.options, backbone) : null;
  fillFreezePoints(backbone, b && b.freezePoints.includes(current) ? current : (b?.defaultFreezeAt ?? current));
}

function onReset(): void {
  if (!state?.options) return;
  const current = readValues();
  state.values = recipeValues(state.options, current.backbone, { dataset: current.dataset, weights: current.weights });
  state.message = null;
  render();
  vscode.postMessage({ type: 'change', values: state.values });
}

function onStart(): void {
  const first = renderProblems(true);
  if (first) {
    control(first).focus();
    return;
  }
  if (changeTimer) clearTimeout(changeTimer);
  vscode.postMessage({ type: 'start', values: readValues() });
}

buildLayout();
render();
onExtensionMessage<TrainingFormToWebview>((message) => {
  if (message.type !== 'state') return;
  state = message.state;
  render();
});
vscode.postMessage({ type: 'ready' });

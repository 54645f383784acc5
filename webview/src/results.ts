/**
 * Classification results: one row per image (file, class, confidence, flags, each class's probability). Column
 * headers are buttons that sort (aria-sort tells screen readers the order); each file name is a button that opens the
 * heatmap; "Save as CSV" asks the extension for a save dialog.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import {
  ResultsIds as ids,
  sortRows,
  type ResultRow,
  type ResultsFromWebview,
  type ResultsSortKey,
  type ResultsState,
  type ResultsToWebview,
} from '../../common/src/resultsTable';
import { append, byId, clear, h, mainLandmark } from './dom';
import { percent } from './format';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

interface Saved extends ResultsState {
  sortKey?: ResultsSortKey;
  descending?: boolean;
}

const vscode = getVsCodeApi<Saved, ResultsFromWebview>();
let state: Saved | null = vscode.getState() ?? null;

function buildLayout(): void {
  const save = h('vscode-button', { id: ids.saveCsv, title: 'Save every row as a CSV file' }, 'Save as CSV…') as VscodeButton;
  save.addEventListener('click', () => vscode.postMessage({ type: 'saveCsv' }));
  append(
    mainLandmark(),
    h('header', { className: 'page-header' }, h('h1', { id: 'results-title', text: 'Classification results' }), h('p', { id: ids.summary })),
    h('div', { className: 'toolbar' }, save),
    h('div', { id: ids.saved, className: 'message', attrs: { role: 'status', 'aria-live': 'polite' } }),
    h('table', { id: ids.table, className: 'data-table results-table' }, h('caption', { id: 'results-caption' }), h('thead', {}), h('tbody', {})),
    h(
      'p',
      { id: ids.researchNote, className: 'research-note' },
      'Research use only, not a diagnostic device: the model was trained on a small public dataset and its output is not a diagnosis. ' +
        'OOD: the image is unlike the training images, so no class is given; low confidence: the calibrated top probability is below the abstain threshold.',
    ),
  );
}

function columns(s: ResultsState): { key: ResultsSortKey; label: string; numeric: boolean }[] {
  return [
    { key: 'name', label: 'File', numeric: false },
    { key: 'label', label: 'Class', numeric: false },
    { key: 'confidence', label: 'Confidence', numeric: true },
    { key: 'flags', label: 'Flags', numeric: false },
    ...s.classes.map((c) => ({ key: `p:${c}` as ResultsSortKey, label: `p(${c})`, numeric: true })),
  ];
}

function render(): void {
  if (!state) return;
  vscode.setState(state);
  const s = state;
  byId('results-title').textContent = `Classified ${s.rows.length} images with ${s.model}`;
  const counts = new Map<string, number>();
  for (const r of s.rows) {
    const k = r.status === 'refused' ? 'OOD (no class)' : r.status === 'uncertain' ? `low confidence (${r.label})` : r.label;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  byId(ids.summary).textContent = [...counts].map(([k, n]) => `${k}: ${n}`).join(' · ') + (s.calibrated ? ' · probabilities temperature-calibrated' : '');
  const saved = byId(ids.saved);
  saved.textContent = s.savedTo ? `Saved to ${s.savedTo}` : '';
  saved.hidden = !s.savedTo;
  byId('results-caption').textContent = 'Select a column header to sort; select a file name to open its heatmap.';

  const key = s.sortKey ?? 'name';
  const descending = s.descending ?? false;
  const table = byId(ids.table);
  const thead = table.querySelector('thead')!;
  const tbody = table.querySelector('tbody')!;
  clear(thead);
  clear(tbody);
  const tr = h('tr', {});
  for (const col of columns(s)) {
    const sorted = col.key === key;
    const button = h('button', { className: 'sort-button', attrs: { type: 'button', 'data-sort': col.key } }, col.label, sorted ? (descending ? ' ▼' : ' ▲') : '');
    button.addEventListener('click', () => {
      if (!state) return;
      state.descending = (state.sortKey ?? 'name') === col.key ? !descending : col.numeric;
      state.sortKey = col.key;
      render();
      (document.querySelector(`button[data-sort="${CSS.escape(col.key)}"]`) as HTMLElement | null)?.focus();
    });
    tr.appendChild(h('th', { attrs: { scope: 'col', 'aria-sort': sorted ? (descending ? 'descending' : 'ascending') : 'none' } }, button));
  }
  thead.appendChild(tr);
  for (const r of sortRows(s.rows, key, descending)) tbody.appendChild(row(r, s.classes));
}

function row(r: ResultRow, classes: string[]): HTMLElement {
  const open = h('button', { className: 'link-button', title: `Open the heatmap of ${r.file}`, attrs: { type: 'button' } }, r.name);
  open.addEventListener('click', () => vscode.postMessage({ type: 'openHeatmap', file: r.file }));
  const flags = h('td', { className: 'flags' });
  for (const f of r.flags) flags.appendChild(h('span', { className: `flag ${f === 'OOD' ? 'flag-ood' : 'flag-low'}`, title: f === 'OOD' ? (r.reason ?? 'out of distribution') : 'below the abstain threshold' }, f));
  return h(
    'tr',
    { attrs: { 'data-file': r.file, 'data-status': r.status } },
    h('th', { attrs: { scope: 'row' } }, open),
    h('td', { text: r.label || '–' }),
    h('td', { className: 'num', text: percent(r.confidence) }),
    flags,
    ...classes.map((c) => h('td', { className: 'num', text: percent(r.probabilities[c]) })),
  );
}

buildLayout();
render();
onExtensionMessage<ResultsToWebview>((m) => {
  if (m.type === 'state') state = { ...m.state, sortKey: state?.sortKey, descending: state?.descending };
  if (m.type === 'saved' && state) state.savedTo = m.path;
  render();
});
vscode.postMessage({ type: 'ready' });

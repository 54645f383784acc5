/** Compare Runs: a sortable table of runs, their curves overlaid, and the diff of two runs' configurations. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import { COMPARE_COLUMNS, diffConfigs, sortRuns, type CompareColumn, type CompareRun, type CompareSort } from '../../common/src/compareRuns';
import { CompareIds as ids, type CompareFromWebview, type CompareState, type CompareToWebview } from '../../common/src/webviewProtocol';
import { append, byId, clear, h, mainLandmark } from './dom';
import { interval, percent } from './format';
import { OverlayChart } from './overlayChart';
import { onThemeChange } from './theme';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

/** What only this page decides (kept across reloads with the state): the sort, the diffed pair, the diff filter. */
interface ViewState {
  sort: CompareSort;
  diffA: string | null;
  diffB: string | null;
  diffOnly: boolean;
}

type Saved = CompareState & { view?: ViewState };

const vscode = getVsCodeApi<Saved, CompareFromWebview>();
const saved = vscode.getState();
let state: CompareState | null = saved && Array.isArray(saved.runs) ? saved : null;
const view: ViewState = saved?.view ?? { sort: { column: 'createdAt', descending: true }, diffA: null, diffB: null, diffOnly: false };

function post(message: CompareFromWebview): void {
  vscode.postMessage(message);
}

function button(label: string, ariaLabel: string, onClick: () => void, secondary = true): VscodeButton {
  const b = h('vscode-button', { attrs: { 'aria-label': ariaLabel }, title: ariaLabel }, label) as VscodeButton;
  b.secondary = secondary;
  b.addEventListener('click', onClick);
  return b;
}

function buildLayout(): void {
  const refresh = button('Refresh', 'Read the runs again', () => post({ type: 'refresh' }));
  refresh.id = ids.refresh;
  const chartBox = (title: string, id: string) =>
    h('div', { className: 'chart-box' }, h('h2', { text: title }), h('div', { className: 'chart-canvas' }, h('canvas', { id, attrs: { role: 'img' } }), h('p', { className: 'chart-empty' })));
  const pairSelect = (id: string, label: string) =>
    h('label', { className: 'control' }, `${label} `, h('select', { id, on: { change: () => onPairChange() } }));
  const diffOnly = h('input', { id: ids.diffOnly, attrs: { type: 'checkbox' }, on: { change: (e) => {
    view.diffOnly = (e.target as HTMLInputElement).checked;
    render();
    byId(ids.diffOnly).focus();
  } } });
  append(
    mainLandmark(),
    h(
      'header',
      { className: 'page-header' },
      h('div', { className: 'title-row' }, h('h1', { text: 'Compare runs' })),
      h('p', { id: 'runs-summary', className: 'run-info' }),
      h('div', { className: 'toolbar' }, refresh),
    ),
    h('div', { id: 'error', className: 'message error', attrs: { role: 'alert' } }),
    h(
      'section',
      { attrs: { 'aria-labelledby': 'runs-heading' } },
      h('h2', { id: 'runs-heading', text: 'Runs' }),
      h('p', { className: 'hint', text: 'Tick runs to overlay their curves; sort by any column with its header button.' }),
      h('div', { className: 'table-scroll' }, h('table', { id: ids.table, className: 'data-table compare-table' }, h('thead', {}), h('tbody', {}))),
    ),
    h(
      'section',
      { attrs: { 'aria-labelledby': 'curves-heading' } },
      h('h2', { id: 'curves-heading', text: 'Curves of the ticked runs' }),
      h('div', { className: 'charts' }, chartBox('Loss', ids.lossChart), chartBox('Accuracy', ids.accuracyChart)),
    ),
    h(
      'section',
      { attrs: { 'aria-labelledby': 'diff-heading' } },
      h('h2', { id: 'diff-heading', text: 'Configuration diff' }),
      h('div', { className: 'controls toolbar' }, pairSelect(ids.diffA, 'Run A'), pairSelect(ids.diffB, 'Run B'), h('label', { className: 'control' }, diffOnly, ' Only differing keys')),
      h('p', { id: 'diff-summary', className: 'hint', attrs: { 'aria-live': 'polite' } }),
      h('table', { id: ids.diff, className: 'data-table config-diff' }, h('thead', {}), h('tbody', {})),
    ),
    h(
      'p',
      { id: ids.researchNote, className: 'research-note compact' },
      'Research tool, not a diagnostic device. Accuracies of small test sets are uncertain: compare the 95% Wilson intervals, not the point values. ' +
        'Runs evaluated on different data, or on a test set that shares patients or sources with training, cannot be compared.',
    ),
  );
}

buildLayout();
const lossChart = new OverlayChart(byId<HTMLCanvasElement>(ids.lossChart), { percent: false });
const accuracyChart = new OverlayChart(byId<HTMLCanvasElement>(ids.accuracyChart), { percent: true });
onThemeChange(() => {
  lossChart.applyTheme();
  accuracyChart.applyTheme();
});

function render(): void {
  if (state) vscode.setState({ ...state, view });
  const s = state;
  const error = byId('error');
  error.textContent = s?.error ?? '';
  error.hidden = !s?.error;
  byId('runs-summary').textContent = s ? `${s.runs.length} run${s.runs.length === 1 ? '' : 's'}, ${s.selected.length} ticked` : 'Loading runs…';
  renderTable(s);
  renderCurves(s);
  renderDiff(s);
}

function renderTable(s: CompareState | null): void {
  const table = byId<HTMLTableElement>(ids.table);
  const head = table.tHead!;
  clear(head);
  const sortHeader = (key: CompareColumn, title: string): HTMLElement => {
    const active = view.sort.column === key;
    const dir = active ? (view.sort.descending ? 'descending' : 'ascending') : 'none';
    const arrow = active ? (view.sort.descending ? ' ▼' : ' ▲') : '';
    return h(
      'th',
      { attrs: { scope: 'col', 'aria-sort': dir, 'data-column': key } },
      h('button', {
        className: 'sort-button',
        attrs: { type: 'button', 'aria-label': `Sort by ${title}${active ? (view.sort.descending ? ', sorted descending' : ', sorted ascending') : ''}` },
        text: `${title}${arrow}`,
        on: { click: () => onSort(key) },
      }),
    );
  };
  append(head, h('tr', {}, h('th', { attrs: { scope: 'col' }, text: 'Show' }), ...COMPARE_COLUMNS.map((c) => sortHeader(c.key, c.title)), h('th', { attrs: { scope: 'col' }, text: 'Actions' })));
  const body = table.tBodies[0];
  clear(body);
  if (!s) return;
  if (s.runs.length === 0) {
    append(body, h('tr', {}, h('td', { attrs: { colspan: String(COMPARE_COLUMNS.length + 2) }, text: 'No runs yet: train a model first.' })));
    return;
  }
  for (const run of sortRuns(s.runs, view.sort)) append(body, runRow(run, s.selected.includes(run.runDir)));
}

function runRow(run: CompareRun, selected: boolean): HTMLElement {
  const tick = h('input', {
    attrs: { type: 'checkbox', 'aria-label': `Show ${run.label} in the curves` },
    on: { change: (e) => onTick(run.runDir, (e.target as HTMLInputElement).checked) },
  }) as HTMLInputElement;
  tick.checked = selected;
  const name = h(
    'th',
    { attrs: { scope: 'row' }, className: 'run-name' },
    h('span', { className: 'run-label', text: run.label }),
    run.label !== run.folder ? h('span', { className: 'run-folder', text: run.folder }) : null,
    run.notes ? h('span', { className: 'run-notes', title: run.notes, text: run.notes }) : null,
  );
  const test = run.test
    ? h('td', { attrs: { 'data-column': 'test' } }, percent(run.test.accuracy), h('br'), h('span', { className: 'ci', text: `${interval(run.test.ci)} · n=${run.test.n}` }))
    : h('td', { attrs: { 'data-column': 'test' }, className: 'muted', text: 'not evaluated' });
  const cell = (column: CompareColumn, text: string) => h('td', { attrs: { 'data-column': column }, text });
  const actions = h(
    'td',
    { className: 'actions' },
    button('Rename', `Rename ${run.label}`, () => post({ type: 'rename', runDir: run.runDir })),
    button('Notes', `Edit the notes of ${run.label}`, () => post({ type: 'editNotes', runDir: run.runDir })),
    button('Tags', `Edit the tags of ${run.label}`, () => post({ type: 'editTags', runDir: run.runDir })),
    button('Dashboard', `Open the training dashboard of ${run.label}`, () => post({ type: 'openDashboard', runDir: run.runDir })),
  );
  return h(
    'tr',
    { attrs: { 'data-run': run.runDir }, className: selected ? 'selected' : '' },
    h('td', { className: 'tick' }, tick),
    name,
    cell('status', run.status),
    cell('createdAt', run.createdAt.replace('T', ' ').slice(0, 16)),
    cell('backbone', run.backbone),
    cell('epochs', `${run.epochsRun}/${run.epochs}`),
    cell('learningRate', String(run.learningRate)),
    cell('momentum', String(run.momentum)),
    cell('batchSize', String(run.batchSize)),
    cell('seed', String(run.seed)),
    cell('augmentation', run.augmentation),
    cell('bestValAccuracy', percent(run.bestValAccuracy)),
    test,
    h('td', { attrs: { 'data-column': 'tags' }, className: 'tags' }, ...run.tags.map((t) => h('span', { className: 'tag', text: t }))),
    actions,
  );
}

function selectedRuns(s: CompareState | null): CompareRun[] {
  if (!s) return [];
  return s.selected.map((dir) => s.runs.find((r) => r.runDir === dir)).filter((r): r is CompareRun => r !== undefined);
}

function renderCurves(s: CompareState | null): void {
  const runs = selectedRuns(s);
  lossChart.update(runs.map((r) => ({ label: r.label, train: r.history.map((e) => ({ x: e.epoch, y: e.loss })), val: r.history.map((e) => ({ x: e.epoch, y: e.valLoss })) })));
  accuracyChart.update(runs.map((r) => ({ label: r.label, train: r.history.map((e) => ({ x: e.epoch, y: e.accuracy })), val: r.history.map((e) => ({ x: e.epoch, y: e.valAccuracy })) })));
  const empty = runs.length === 0 ? 'Tick runs in the table to see their curves.' : runs.every((r) => r.history.length === 0) ? 'No finished epoch yet.' : '';
  for (const p of document.querySelectorAll('.chart-empty')) p.textContent = empty;
}

/** The diffed pair: as picked, else the first two ticked runs, else the first two runs. */
function diffPair(s: CompareState): [CompareRun | undefined, CompareRun | undefined] {
  const find = (dir: string | null) => (dir ? s.runs.find((r) => r.runDir === dir) : undefined);
  const fallback = [...selectedRuns(s), ...s.runs.filter((r) => !s.selected.includes(r.runDir))];
  const a = find(view.diffA) ?? fallback[0];
  const b = find(view.diffB) ?? fallback.find((r) => r !== a);
  return [a, b];
}

function renderDiff(s: CompareState | null): void {
  const table = byId<HTMLTableElement>(ids.diff);
  const summary = byId('diff-summary');
  clear(table.tHead!);
  clear(table.tBodies[0]);
  const selects = [byId<HTMLSelectElement>(ids.diffA), byId<HTMLSelectElement>(ids.diffB)];
  for (const sel of selects) clear(sel);
  byId<HTMLInputElement>(ids.diffOnly).checked = view.diffOnly;
  if (!s || s.runs.length < 2) {
    summary.textContent = 'Two runs are needed to compare configurations.';
    return;
  }
  const [a, b] = diffPair(s);
  selects.forEach((sel, i) => {
    for (const r of s.runs) {
      const option = h('option', { text: r.label === r.folder ? r.label : `${r.label} (${r.folder})`, attrs: { value: r.runDir } }) as HTMLOptionElement;
      option.selected = r === (i === 0 ? a : b);
      sel.appendChild(option);
    }
  });
  if (!a || !b) return;
  const rows = diffConfigs(a.config, b.config);
  const differing = rows.filter((r) => r.differs).length;
  summary.textContent = a === b ? 'The same run is picked twice.' : `${differing} of ${rows.length} keys differ between ${a.label} and ${b.label}.`;
  append(table.tHead!, h('tr', {}, h('th', { attrs: { scope: 'col' }, text: 'Key' }), h('th', { attrs: { scope: 'col' }, text: `A: ${a.label}` }), h('th', { attrs: { scope: 'col' }, text: `B: ${b.label}` }), h('th', { attrs: { scope: 'col' }, text: 'Same?' })));
  for (const row of rows) {
    if (view.diffOnly && !row.differs) continue;
    append(
      table.tBodies[0],
      h(
        'tr',
        { className: row.differs ? 'differs' : 'same', attrs: { 'data-key': row.key } },
        h('th', { attrs: { scope: 'row' }, text: row.key }),
        h('td', { text: row.a ?? '(absent)' }),
        h('td', { text: row.b ?? '(absent)' }),
        h('td', { className: 'diff-mark', text: row.differs ? '≠ differs' : '= same' }),
      ),
    );
  }
}

function onSort(column: CompareColumn): void {
  view.sort = view.sort.column === column ? { column, descending: !view.sort.descending } : { column, descending: false };
  render();
  // Keep keyboard focus on the header just used (the table is rebuilt).
  document.querySelector<HTMLButtonElement>(`#${ids.table} th[data-column="${column}"] button`)?.focus();
}

function onTick(runDir: string, checked: boolean): void {
  if (!state) return;
  const selected = checked ? [...state.selected.filter((d) => d !== runDir), runDir] : state.selected.filter((d) => d !== runDir);
  state = { ...state, selected };
  post({ type: 'select', runDirs: selected });
  render();
  document.querySelector<HTMLInputElement>(`#${ids.table} tr[data-run="${CSS.escape(runDir)}"] input[type=checkbox]`)?.focus();
}

function onPairChange(): void {
  const focused = document.activeElement?.id;
  view.diffA = byId<HTMLSelectElement>(ids.diffA).value || null;
  view.diffB = byId<HTMLSelectElement>(ids.diffB).value || null;
  render();
  if (focused) document.getElementById(focused)?.focus();
}

onExtensionMessage<CompareToWebview>((message) => {
  if (message.type === 'state') {
    state = message.state;
    render();
  }
});

render();
post({ type: 'ready' });

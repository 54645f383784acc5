/**
 * Dataset view: class balance (a table with bars), a thumbnail grid per split and class (small JPEGs the backend made;
 * each thumbnail is a button that opens the image), and the latest audit's findings with a button to run one.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import {
  DatasetViewIds as ids,
  type DatasetViewFromWebview,
  type DatasetViewGroup,
  type DatasetViewState,
  type DatasetViewToWebview,
} from '../../common/src/datasetView';
import { append, byId, clear, h, mainLandmark } from './dom';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

const vscode = getVsCodeApi<DatasetViewState, DatasetViewFromWebview>();
let state: DatasetViewState | null = vscode.getState() ?? null;

function buildLayout(): void {
  const audit = h('vscode-button', { id: ids.runAudit, title: 'Duplicates across splits, source confounds, patients, balance' }, 'Run audit') as VscodeButton;
  audit.secondary = true;
  audit.addEventListener('click', () => vscode.postMessage({ type: 'audit' }));
  append(
    mainLandmark(),
    h('header', { className: 'page-header' }, h('h1', { id: 'dataset-title', text: 'Dataset' }), h('p', { id: 'dataset-path', className: 'hint' })),
    h('div', { id: 'dataset-error', className: 'message error', attrs: { role: 'alert' } }),
    h('section', {}, h('h2', { text: 'Class balance' }), h('table', { id: ids.balance, className: 'data-table' }, h('thead', {}), h('tbody', {}))),
    h('section', {}, h('div', { className: 'title-row' }, h('h2', { text: 'Audit findings' }), audit), h('div', { id: ids.findings, attrs: { role: 'region', 'aria-label': 'Audit findings' } })),
    h('section', {}, h('h2', { text: 'Images' }), h('p', { id: 'images-status', className: 'hint', attrs: { role: 'status', 'aria-live': 'polite' } }), h('div', { id: ids.grid })),
  );
}

function render(): void {
  if (!state) return;
  vscode.setState(state);
  const s = state;
  byId('dataset-title').textContent = `Dataset: ${s.label}`;
  byId('dataset-path').textContent = `${s.dataset.path} · ${s.dataset.source === 'csv' ? 'CSV manifest' : 'folders'}`;
  const error = byId('dataset-error');
  error.textContent = s.error ?? '';
  error.hidden = !s.error;
  renderBalance(s);
  renderFindings(s);
  renderGroups(s);
}

function renderBalance(s: DatasetViewState): void {
  const table = byId(ids.balance);
  const splits = (['train', 'test', 'unassigned'] as const).filter((sp) => s.dataset.counts[sp]);
  const thead = table.querySelector('thead')!;
  const tbody = table.querySelector('tbody')!;
  clear(thead);
  clear(tbody);
  thead.appendChild(h('tr', {}, h('th', { attrs: { scope: 'col' } }, 'Class'), ...splits.map((sp) => h('th', { attrs: { scope: 'col' } }, sp)), h('th', { attrs: { scope: 'col' } }, 'Total'), h('th', { attrs: { scope: 'col' } }, 'Share')));
  const total = s.dataset.total || 1;
  for (const c of s.dataset.classes) {
    const counts = splits.map((sp) => s.dataset.counts[sp]?.[c] ?? 0);
    const sum = counts.reduce((a, b) => a + b, 0);
    const bar = h('span', { className: 'balance-bar' });
    bar.style.width = `${Math.round((100 * sum) / total)}%`;
    tbody.appendChild(
      h(
        'tr',
        { attrs: { 'data-class': c } },
        h('th', { attrs: { scope: 'row' } }, c),
        ...counts.map((n) => h('td', { className: 'num', text: String(n) })),
        h('td', { className: 'num', text: String(sum) }),
        h('td', { className: 'balance-cell' }, h('span', { className: 'balance-track', attrs: { 'aria-hidden': 'true' } }, bar), `${((100 * sum) / total).toFixed(1)}%`),
      ),
    );
  }
}

function renderFindings(s: DatasetViewState): void {
  const el = byId(ids.findings);
  clear(el);
  if (!s.findings) {
    el.appendChild(h('p', { className: 'hint' }, 'No audit of this dataset yet. Run one to look for duplicates across splits, source confounds and patient overlap.'));
    return;
  }
  if (s.auditAge) el.appendChild(h('p', { id: 'audit-age', className: 'hint' }, s.auditAge));
  if (s.findings.length === 0) {
    el.appendChild(h('p', {}, 'The audit found nothing to report.'));
    return;
  }
  const list = h('ul', { className: 'findings' });
  for (const f of s.findings) list.appendChild(h('li', { className: `finding finding-${f.severity}`, attrs: { 'data-kind': f.kind } }, h('strong', {}, `${f.severity}: `), f.message));
  el.appendChild(list);
}

function renderGroups(s: DatasetViewState): void {
  const grid = byId(ids.grid);
  clear(grid);
  const made = s.groups.reduce((n, g) => n + g.thumbs.filter((t) => t.src).length, 0);
  const wanted = s.groups.reduce((n, g) => n + g.thumbs.length, 0);
  byId('images-status').textContent = s.loading ? (s.groups.length ? `Making thumbnails… (${wanted} images)` : 'Listing images…') : `${made} thumbnails of ${s.dataset.total} images.`;
  for (const g of s.groups) grid.appendChild(group(g));
}

function group(g: DatasetViewGroup): HTMLElement {
  const headingId = `group-${g.split}-${g.className}`.replace(/[^\w-]+/g, '_');
  const shown = g.thumbs.length < g.count ? ` (first ${g.thumbs.length} shown)` : '';
  const list = h('ul', { className: 'thumb-grid', attrs: { 'aria-labelledby': headingId } });
  for (const t of g.thumbs) {
    const content = t.src
      ? h('img', { attrs: { src: t.src, alt: `${g.className}, ${g.split}: ${t.name}`, width: '96', height: '96' } })
      : h('span', { className: 'thumb-placeholder', title: t.error ?? 'Loading' }, t.error ? 'cannot show' : '…');
    const button = h('button', { className: 'thumb-button', title: `${t.name}: open the image`, attrs: { type: 'button', 'data-file': t.file } }, content, h('span', { className: 'thumb-name' }, t.name));
    button.addEventListener('click', () => vscode.postMessage({ type: 'openImage', file: t.file }));
    list.appendChild(h('li', {}, button));
  }
  return h(
    'section',
    { className: 'thumb-group', attrs: { 'data-split': g.split, 'data-class': g.className, 'data-count': String(g.count) } },
    h('h3', { id: headingId }, `${g.className} · ${g.split} · ${g.count} image${g.count === 1 ? '' : 's'}${shown}`),
    list,
  );
}

buildLayout();
render();
onExtensionMessage<DatasetViewToWebview>((m) => {
  if (m.type === 'state') state = m.state;
  render();
});
vscode.postMessage({ type: 'ready' });

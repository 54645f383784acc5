/** Evaluation report: accuracy with its interval, confusion matrix, per-class metrics, caveats, misclassified images. */
import { buildReliabilitySection, renderReliability } from './reliabilityChart';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { EvaluateResult } from '../../server/src/engine/api';
import { EvaluationCellImages, EvaluationFromWebview, EvaluationState, EvaluationToWebview, WebviewIds } from '../../common/src/webviewProtocol';
import { buildCellImagesSection, makeCellsSelectable, renderCellImages, type SelectedCell } from './confusionDrilldown';
import { append, byId, clear, h, liveAnnouncer, mainLandmark } from './dom';
import { buildCurveSections, effectiveSelection, renderCurves, type ThresholdSelection } from './evaluationCurves';
import { baseName, fixed, interval, percent } from './format';
import { getVsCodeApi, onExtensionMessage } from './vscodeApi';

const ids = WebviewIds.evaluation;

interface SavedState {
  report: EvaluationState | null;
  message: string | null;
  normalized: boolean;
  /** The threshold control's class and value. */
  threshold?: ThresholdSelection | null;
  /** The confusion-matrix cell whose images are listed. */
  cell?: SelectedCell | null;
}

const vscode = getVsCodeApi<SavedState, EvaluationFromWebview>();
let saved: SavedState = vscode.getState() ?? { report: null, message: null, normalized: false };
/** The listed cell's images, as the extension last sent them (not saved: asked for again after a reload). */
let cellImages: EvaluationCellImages | null = null;

function buildLayout(): void {
  const normalize = h('vscode-checkbox', { id: ids.normalize, attrs: { label: 'Row-normalised (share of each true class)' } }) as VscodeCheckbox;
  normalize.addEventListener('change', () => {
    saved.normalized = normalize.checked;
    render();
  });
  const reevaluate = h('vscode-button', { id: 'reevaluate' }, 'Evaluate again') as VscodeButton;
  reevaluate.secondary = true;
  reevaluate.addEventListener('click', () => vscode.postMessage({ type: 'reevaluate' }));
  const report = h('vscode-button', { id: 'open-report' }, 'Open Markdown report') as VscodeButton;
  report.secondary = true;
  report.addEventListener('click', () => {
    const file = saved.report?.result.files.markdown;
    if (file) vscode.postMessage({ type: 'openReport', file });
  });

  append(
    mainLandmark(),
    h(
      'div',
      { id: ids.researchNote, className: 'research-note', attrs: { role: 'note' } },
      h('strong', { text: 'Research use only — not a diagnostic device. ' }),
      'These numbers describe one model on one dataset split. They do not show that the model would work on images from another hospital, scanner or population, and must not be used for patient care.',
    ),
    h('header', { className: 'page-header' }, h('h1', { id: 'eval-title', text: 'Evaluation' }), h('div', { id: 'eval-meta', className: 'run-info' }), h('div', { className: 'toolbar' }, reevaluate, report)),
    h('div', { id: 'eval-message', className: 'message', attrs: { role: 'status' } }),
    h(
      'section',
      { className: 'cards', attrs: { 'aria-label': 'Summary metrics' } },
      h('div', { className: 'card' }, h('div', { className: 'card-label', text: 'Accuracy' }), h('div', { id: ids.accuracy, className: 'card-value' }), h('div', { id: 'accuracy-ci', className: 'card-detail' })),
      h('div', { className: 'card' }, h('div', { className: 'card-label', text: 'Balanced accuracy' }), h('div', { id: ids.balancedAccuracy, className: 'card-value' }), h('div', { className: 'card-detail', text: 'mean recall over classes' })),
      h('div', { className: 'card' }, h('div', { className: 'card-label', text: 'Macro F1' }), h('div', { id: 'macro-f1', className: 'card-value' })),
      h('div', { className: 'card' }, h('div', { className: 'card-label', text: 'Macro ROC-AUC' }), h('div', { id: 'macro-auc', className: 'card-value' })),
    ),
    h('section', {}, h('h2', { text: 'Caveats' }), h('ul', { id: ids.caveats, className: 'caveats' })),
    h('section', {}, h('h2', { text: 'Confusion matrix' }), normalize, h('table', { id: ids.confusionMatrix, className: 'data-table confusion' })),
    buildCellImagesSection(),
    ...buildCurveSections((selection) => {
      saved.threshold = selection;
      vscode.setState(saved);
      if (saved.report) renderCurves(saved.report.result, effectiveSelection(saved.report.result, selection));
    }),
    h('section', {}, h('h2', { text: 'Per-class metrics' }), h('table', { id: ids.perClass, className: 'data-table' })),
    buildReliabilitySection(),
    h('section', {}, h('h2', { id: 'misclassified-title', text: 'Misclassified images' }), h('div', { id: ids.misclassified, className: 'thumbs', attrs: { role: 'group', 'aria-labelledby': 'misclassified-title' } })),
    h('section', { id: 'unreadable-section' }, h('h2', { id: 'unreadable-title', text: 'Unreadable images' }), h('p', { text: 'These files could not be read as images and are left out of every number above.' }), h('table', { id: 'unreadable', className: 'data-table' })),
  );
}

function render(): void {
  vscode.setState(saved);
  (byId(ids.normalize) as VscodeCheckbox).checked = saved.normalized;
  const message = byId('eval-message');
  message.textContent = saved.message ?? '';
  message.hidden = !saved.message;
  const report = saved.report;
  for (const section of document.querySelectorAll<HTMLElement>('section')) section.hidden = !report;
  (byId('open-report') as VscodeButton).disabled = !report;
  if (!report) {
    byId('eval-title').textContent = 'Evaluation';
    clear(byId('eval-meta'));
    announce('');
    return;
  }
  const r = report.result;
  announce(`Evaluation of ${report.runName} on the ${r.split} split, ${r.n} images: accuracy ${percent(r.accuracy)} (${interval(r.accuracy_ci)}), balanced accuracy ${percent(r.balanced_accuracy)}.`);
  byId('eval-title').textContent = `Evaluation: ${report.runName} (${r.split})`;
  byId('eval-meta').textContent = `${r.n} images from ${r.data} · loss ${fixed(r.loss, 4)}`;
  byId(ids.accuracy).textContent = percent(r.accuracy);
  byId('accuracy-ci').textContent = interval(r.accuracy_ci);
  byId(ids.balancedAccuracy).textContent = percent(r.balanced_accuracy);
  byId('macro-f1').textContent = percent(r.macro_avg.f1);
  byId('macro-auc').textContent = fixed(r.macro_auc, 3);
  renderCaveats(r);
  renderConfusion(r, saved.normalized);
  renderDrilldown(r);
  renderCurves(r, effectiveSelection(r, saved.threshold ?? null));
  renderPerClass(r);
  renderReliability(r);
  renderMisclassified(report);
  renderUnreadable(r);
}

function renderCaveats(r: EvaluateResult): void {
  const list = byId(ids.caveats);
  clear(list);
  const caveats = [...r.caveats];
  if (caveats.length === 0) caveats.push('No automatic caveats were raised; the research-use note above still applies.');
  for (const c of caveats) list.appendChild(h('li', { text: c }));
}

function renderConfusion(r: EvaluateResult, normalized: boolean): void {
  const table = byId(ids.confusionMatrix);
  clear(table);
  const classes = r.classes;
  append(
    table,
    h('caption', { text: normalized ? 'Rows: true class · columns: predicted class · share of the row' : 'Rows: true class · columns: predicted class · image counts' }),
    h('thead', {}, h('tr', {}, h('th', { text: 'true \\ predicted', attrs: { scope: 'col' } }), ...classes.map((c) => h('th', { className: 'cm-class', text: c, attrs: { scope: 'col' } })), h('th', { text: 'total', attrs: { scope: 'col' } }))),
  );
  const body = h('tbody');
  r.confusion_matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const tr = h('tr', {}, h('th', { text: classes[i] ?? String(i), attrs: { scope: 'row' } }));
    row.forEach((count, j) => {
      const share = total > 0 ? count / total : 0;
      const cell = h('td', {
        className: i === j ? 'cm-cell diag' : 'cm-cell',
        text: normalized ? percent(share) : String(count),
        title: `${count} of ${total} ${classes[i]} images predicted ${classes[j]} (${percent(share)})`,
        attrs: { 'data-row': String(i), 'data-col': String(j), 'data-count': String(count) },
      });
      // Shade by the row share in both modes, so colour always reads "how much of this class went here".
      const tint = i === j ? '--vscode-charts-green' : '--vscode-charts-red';
      cell.style.backgroundColor = share > 0 ? `color-mix(in srgb, var(${tint}) ${Math.round(10 + share * 55)}%, transparent)` : '';
      tr.appendChild(cell);
    });
    tr.appendChild(h('td', { className: 'total', text: String(total) }));
    body.appendChild(tr);
  });
  table.appendChild(body);
}

function renderPerClass(r: EvaluateResult): void {
  const table = byId(ids.perClass);
  clear(table);
  append(
    table,
    h('caption', { className: 'sr-only', text: 'Per-class metrics with 95% confidence intervals' }),
    h('thead', {}, h('tr', {}, ...['Class', 'Precision', 'Recall (sensitivity)', 'F1', 'ROC-AUC', 'Support'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))),
  );
  const body = h('tbody');
  for (const c of r.per_class) {
    append(
      body,
      h(
        'tr',
        {},
        h('th', { text: c.name, attrs: { scope: 'row' } }),
        h('td', {}, percent(c.precision), h('span', { className: 'ci', text: ` ${interval(c.precisionCi)}` })),
        h('td', {}, percent(c.recall), h('span', { className: 'ci', text: ` ${interval(c.recallCi)}` })),
        h('td', { text: percent(c.f1) }),
        h('td', { text: fixed(c.auc, 3) }),
        h('td', { text: String(c.support) }),
      ),
    );
  }
  for (const [name, avg] of [['macro avg', r.macro_avg], ['weighted avg', r.weighted_avg]] as const) {
    append(body, h('tr', { className: 'avg' }, h('th', { text: name, attrs: { scope: 'row' } }), h('td', { text: percent(avg.precision) }), h('td', { text: percent(avg.recall) }), h('td', { text: percent(avg.f1) }), h('td', { text: '' }), h('td', { text: String(avg.support) })));
  }
  table.appendChild(body);
}

function renderUnreadable(r: EvaluateResult): void {
  const list = r.unreadable ?? [];
  byId('unreadable-section').hidden = list.length === 0;
  byId('unreadable-title').textContent = `Unreadable images (${list.length})`;
  const table = byId('unreadable');
  clear(table);
  append(table, h('caption', { className: 'sr-only', text: 'Unreadable images' }), h('thead', {}, h('tr', {}, ...['File', 'Code', 'Reason'].map((t) => h('th', { text: t, attrs: { scope: 'col' } })))));
  const body = h('tbody');
  for (const u of list) {
    append(body, h('tr', {}, h('td', { text: baseName(u.file), title: u.file }), h('td', { text: u.code }), h('td', { text: u.reason })));
  }
  table.appendChild(body);
}

function renderMisclassified(report: EvaluationState): void {
  const grid = byId(ids.misclassified);
  clear(grid);
  byId('misclassified-title').textContent = `Misclassified images (${report.misclassified.length})`;
  if (report.misclassified.length === 0) {
    grid.appendChild(h('p', { text: 'Every image in this split was classified correctly.' }));
    return;
  }
  for (const img of report.misclassified) {
    const picture = img.src
      ? h('img', { attrs: { src: img.src, alt: `${baseName(img.file)}: true ${img.trueLabel}, predicted ${img.label}`, loading: 'lazy' } })
      : h('div', { className: 'thumb-placeholder', text: baseName(img.file) });
    const figure = h(
      'button',
      { className: 'thumb', title: `${img.file}\nOpen in the heatmap viewer`, attrs: { 'data-file': img.file, type: 'button' } },
      picture,
      h('span', { className: 'thumb-caption' }, h('span', { className: 'thumb-name', text: baseName(img.file) }), h('span', { text: `true ${img.trueLabel} → ${img.label} (${percent(img.confidence, 0)})` })),
    );
    figure.addEventListener('click', () => vscode.postMessage({ type: 'openImage', file: img.file }));
    grid.appendChild(figure);
  }
}

function renderDrilldown(r: EvaluateResult): void {
  makeCellsSelectable(byId(ids.confusionMatrix), r.classes, saved.cell ?? null, selectCell);
  renderCellImages(saved.cell ?? null, cellImages, (img) => vscode.postMessage({ type: 'openImage', file: img.file, trueLabel: img.trueLabel }));
}

function selectCell(cell: SelectedCell): void {
  saved.cell = cell;
  vscode.setState(saved);
  if (saved.report) renderDrilldown(saved.report.result);
  vscode.postMessage({ type: 'cellImages', trueLabel: cell.trueLabel, predicted: cell.predicted });
}

buildLayout();
const announce = liveAnnouncer('evaluation-announcer');
onExtensionMessage<EvaluationToWebview>((message) => {
  if (message.type === 'state') {
    saved = { ...saved, report: message.state, message: message.message ?? null };
    cellImages = null;
    const cell = saved.cell;
    if (cell && !(message.state?.result.classes.includes(cell.trueLabel) && message.state.result.classes.includes(cell.predicted))) saved.cell = null;
    render();
    if (saved.cell) vscode.postMessage({ type: 'cellImages', trueLabel: saved.cell.trueLabel, predicted: saved.cell.predicted });
  } else if (message.type === 'cellImages') {
    cellImages = message;
    if (saved.report) renderDrilldown(saved.report.result);
  }
});
render();
vscode.postMessage({ type: 'ready' });

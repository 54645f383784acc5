/**
 * Confusion-matrix drill-down: every non-empty cell is a button (click, Enter or Space) that lists the cell's images,
 * most confident first, with thumbnails; each opens the heatmap viewer showing the image's true label.
 */
import type { EvaluationCellImages, EvaluationImage } from '../../common/src/webviewProtocol';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { append, byId, clear, h } from './dom';
import { baseName, percent } from './format';

const ids = WebviewIds.evaluation;
/** Rows drawn at first (and added per "Show more"); a cell of a large test set can hold thousands. */
const PAGE = 100;

export interface SelectedCell {
  trueLabel: string;
  predicted: string;
}

export function buildCellImagesSection(): HTMLElement {
  return h(
    'section',
    { id: 'cell-images-section' },
    h('h2', { id: 'cell-images-title', text: 'Images of a confusion-matrix cell' }),
    h('p', { id: 'cell-images-hint', className: 'hint', text: 'Choose a cell of the confusion matrix (click, or Tab to it and press Enter) to list its images.' }),
    h('ul', { id: ids.cellImages, className: 'cell-images', attrs: { 'aria-labelledby': 'cell-images-title' } }),
    h('div', { id: 'cell-images-more' }),
  );
}

/** Turns the rendered matrix's cells (td.cm-cell with data-row, data-col, data-count) into buttons, `selected` pressed. */
export function makeCellsSelectable(table: HTMLElement, classes: string[], selected: SelectedCell | null, onSelect: (cell: SelectedCell) => void): void {
  for (const cell of table.querySelectorAll<HTMLElement>('td.cm-cell')) {
    const trueLabel = classes[Number(cell.dataset.row)];
    const predicted = classes[Number(cell.dataset.col)];
    const count = Number(cell.dataset.count);
    if (trueLabel === undefined || predicted === undefined || !(count > 0)) continue;
    cell.tabIndex = 0;
    cell.setAttribute('role', 'button');
    cell.setAttribute('aria-label', `${count} ${trueLabel} image${count === 1 ? '' : 's'} predicted ${predicted}: list ${count === 1 ? 'it' : 'them'}`);
    const isSelected = selected?.trueLabel === trueLabel && selected.predicted === predicted;
    cell.setAttribute('aria-pressed', String(isSelected));
    cell.classList.toggle('selected', isSelected);
    // Properties, not listeners: calling this again on the same table (a new selection) must not add handlers.
    cell.onclick = () => onSelect({ trueLabel, predicted });
    cell.onkeydown = (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        onSelect({ trueLabel, predicted });
      }
    };
  }
}

/** Shows the list for `selected`: its images once they arrived (`reply` for that cell), else "loading". */
export function renderCellImages(selected: SelectedCell | null, reply: EvaluationCellImages | null, open: (image: EvaluationImage) => void, shown = PAGE): void {
  const list = byId(ids.cellImages);
  const more = byId('cell-images-more');
  clear(list);
  clear(more);
  byId('cell-images-hint').hidden = selected !== null;
  if (!selected) {
    byId('cell-images-title').textContent = 'Images of a confusion-matrix cell';
    return;
  }
  const matches = reply && reply.trueLabel === selected.trueLabel && reply.predicted === selected.predicted ? reply.images : null;
  const what = selected.trueLabel === selected.predicted ? `${selected.trueLabel}, correctly predicted` : `true ${selected.trueLabel}, predicted ${selected.predicted}`;
  byId('cell-images-title').textContent = matches
    ? `Images: ${what} (${matches.length}, most confident first)`
    : `Images: ${what} (loading…)`;
  if (!matches) return;
  for (const img of matches.slice(0, shown)) {
    const picture = img.src
      ? h('img', { attrs: { src: img.src, alt: '', loading: 'lazy' } })
      : h('span', { className: 'thumb-placeholder small', text: 'DICOM' });
    const trueProbability = img.trueLabel === img.label ? '' : ` · ${img.trueLabel} ${percent(img.trueConfidence ?? null)}`;
    const button = h(
      'button',
      {
        className: 'cell-image',
        title: `${img.file}\nOpen the heatmap (true label ${img.trueLabel})`,
        attrs: { type: 'button', 'data-file': img.file, 'aria-label': `${baseName(img.file)}: true ${img.trueLabel}, predicted ${img.label} at ${percent(img.confidence)}. Open its heatmap.` },
      },
      picture,
      h('span', { className: 'cell-image-name', text: baseName(img.file) }),
      h('span', { className: 'cell-image-probs', text: `${img.label} ${percent(img.confidence)}${trueProbability}` }),
    );
    button.addEventListener('click', () => open(img));
    list.appendChild(h('li', {}, button));
  }
  if (matches.length > shown) {
    const next = h('button', { className: 'link-button', text: `Show ${Math.min(PAGE, matches.length - shown)} more of ${matches.length - shown}`, attrs: { type: 'button' } });
    next.addEventListener('click', () => renderCellImages(selected, reply, open, shown + PAGE));
    append(more, next);
  }
}

/**
 * Results that persist, in code-server with the packaged extension: classifying several images chosen in the explorer
 * opens a results table (file, class, confidence, flags, each class's probability) that sorts, opens a row's heatmap
 * and saves a CSV whose rows match the table; the evaluation's Markdown report opens as a rendered preview.
 * Screenshots in dark, light and high-contrast themes go to test-artifacts/e2e/results-table/ (text contrast checked).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { ResultsIds as ids } from '../../common/src/resultsTable';
import { Engine } from '../../server/src/engine/engine';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { parseColor, sampleChartColours, sampleText, textContrast } from './contrast';
import { trainTinyRun, CodeServerSession, escapeRegExp, useSession } from './harness';

const scratch = scratchDirFactory();
const outside = scratch('e2e-results');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'classifier');
const CLASSES = ['Covid', 'Normal', 'Viral Pneumonia'];
const PICKED = ['data/ci-tiny/test/Covid/0102.jpeg', 'data/ci-tiny/test/Covid/0105.png', 'data/ci-tiny/test/Normal/0101.jpeg'];

async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Splits one RFC 4180 line (the CSV has no newlines inside fields). */
function csvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

describe('CXR Studio classification results table in code-server', { timeout: 300_000 }, () => {
  let s: CodeServerSession;
  let table: FrameLocator;

  before(async () => {
    const engine = new Engine();
    await trainTinyRun(engine, run, 3);
    await engine.evaluate({ run, data: CI_TINY, split: 'test' });
  });

  useSession({ name: 'results-table', settings: { 'cxr.runsDirectory': runsDir, 'cxr.activeModel': run, 'cxr.dataRoots': [path.dirname(CI_TINY)] } }, async (started) => {
    s = started;
    await s.statusBarItem('cxr.status').filter({ hasText: /· classifier$/ }).waitFor({ timeout: 90_000 });
  });

  it('classifies three images selected in the explorer into a sortable table whose rows open the heatmap', async () => {
    // Expand both folders first (clicking a folder would change the selection), then select the three files.
    for (const file of [PICKED[2], PICKED[0]]) {
      await s.rightClickExplorer(file);
      await s.page.keyboard.press('Escape');
    }
    // Level 5: workspace/data/ci-tiny/test/<class>/<file>; the first match is the upper folder's (Covid before Normal).
    const row = (rel: string) =>
      s.page.locator('.explorer-folders-view .monaco-list-row[aria-level="5"]').filter({ has: s.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(path.basename(rel))}$`) }) }).first();
    /** Clicks until the row shows as selected (a click right after a menu closed can be swallowed). */
    const select = async (r: ReturnType<typeof row>, modifiers: ('Control')[]) => {
      for (let i = 0; i < 4 && !/\bselected\b/.test((await r.getAttribute('class')) ?? ''); i++) {
        await r.click({ modifiers });
        await s.page.waitForTimeout(300);
      }
    };
    await select(row(PICKED[0]), []);
    await select(row(PICKED[1]), ['Control']);
    const normal = row(PICKED[2]);
    await select(normal, ['Control']);
    assert.equal(await s.page.locator('.explorer-folders-view .monaco-list-row.selected').count(), 3);
    await normal.click({ button: 'right' });
    await s.page.locator('.monaco-menu .action-item').first().waitFor();
    await s.contextMenuItem('Classify Image');

    table = await s.webviewWith(ids.table, 90_000);
    const rows = table.locator(`#${ids.table} tbody tr`);
    await waitUntil(async () => (await rows.count()) === 3, 30_000, 'the table lists the three images');
    const files = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-file')));
    assert.deepEqual([...files].sort(), PICKED.map((p) => path.join(s.workspace, p)).sort());
    const headers = await table.locator(`#${ids.table} thead th`).allInnerTexts();
    assert.deepEqual(headers.map((t) => t.replace(/[▲▼]/g, '').trim()), ['File', 'Class', 'Confidence', 'Flags', ...CLASSES.map((c) => `p(${c})`)]);

    // Sorting by p(Covid): descending on first select, ascending on the second; aria-sort says so.
    const pCovid = async () => (await rows.locator('td:nth-child(5)').allInnerTexts()).map((t) => Number.parseFloat(t));
    await table.locator('button[data-sort="p:Covid"]').click();
    const desc = await pCovid();
    assert.deepEqual(desc, [...desc].sort((a, b) => b - a));
    assert.equal(await table.locator('th', { has: table.locator('button[data-sort="p:Covid"]') }).getAttribute('aria-sort'), 'descending');
    await table.locator('button[data-sort="p:Covid"]').click();
    const asc = await pCovid();
    assert.deepEqual(asc, [...desc].reverse());

    // A row's file name opens that image's heatmap.
    await rows.filter({ has: table.locator('th', { hasText: '0105.png' }) }).locator('button').click();
    await s.tab('Heatmap: 0105.png').waitFor({ timeout: 30_000 });
    await s.tab(/^Classified: 3 images/).click();
  });

  it('saves the table as a CSV (proposed in the run folder) whose rows match it', async () => {
    table = await s.webviewWith(ids.table, 30_000);
    const shown = new Map<string, string[]>();
    for (const tr of await table.locator(`#${ids.table} tbody tr`).all()) shown.set((await tr.getAttribute('data-file'))!, await tr.locator('th, td').allInnerTexts());
    await table.locator(`#${ids.saveCsv}`).click();
    const input = s.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    let proposed = await input.inputValue();
    for (let i = 0; i < 100 && !proposed.endsWith('.csv'); i++) {
      await s.page.waitForTimeout(100); // the dialog fills in its proposal after it shows
      proposed = await input.inputValue();
    }
    assert.ok(proposed.startsWith(path.join(run, 'exports') + path.sep), `proposed ${proposed}`);
    await input.press('Enter');
    await waitUntil(() => fs.existsSync(proposed), 30_000, 'the CSV is written');
    await table.locator(`#${ids.saved}`).filter({ hasText: proposed }).waitFor();
    const [header, ...lines] = fs.readFileSync(proposed, 'utf8').trimEnd().split('\r\n').map(csvLine);
    assert.deepEqual(header, ['file', 'class', 'status', 'flags', 'confidence', ...CLASSES.map((c) => `p(${c})`), 'ood_reason']);
    assert.equal(lines.length, 3);
    for (const cells of lines) {
      const [file, label, status, flags, confidence, ...rest] = cells;
      const probs = rest.slice(0, 3).map(Number);
      const on = shown.get(file);
      assert.ok(on, `${file} is not in the table`);
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3, `probabilities of ${file} sum to ${probs}`);
      assert.ok(['confident', 'uncertain', 'refused'].includes(status));
      if (status !== 'refused') {
        assert.equal(label, CLASSES[probs.indexOf(Math.max(...probs))], `${file}: the class is the most probable one`);
        assert.equal(Number(confidence), Math.max(...probs));
      }
      // The table shows the same values, as percentages.
      assert.deepEqual(on, [path.basename(file), label || '–', `${(Number(confidence) * 100).toFixed(1)}%`, flags.replace(/; /g, ''), ...probs.map((p) => `${(p * 100).toFixed(1)}%`)]);
    }
    await s.clearNotifications().catch(() => undefined);
  });

  it('opens the Markdown evaluation report as a rendered preview', async () => {
    await s.runCommand('CXR: Open Evaluation');
    await s.quickInput(path.basename(run));
    const evaluation = await s.webviewWith('open-report', 60_000);
    await evaluation.locator('#open-report').click();
    await s.tab(/^Preview evaluation\.md$/).waitFor({ timeout: 30_000 });
    const preview = await s.webviewMatching('h1', 30_000);
    assert.match(await preview.locator('h1').first().innerText(), /\S/);
  });

  for (const theme of ['Dark Modern', 'Light Modern', 'Dark High Contrast', 'Light High Contrast']) {
    it(`reads at WCAG AA contrast in ${theme}`, async () => {
      await s.setColorTheme(theme);
      await s.tab(/^Classified: 3 images/).click();
      const frame = await s.webviewWith(ids.table, 30_000);
      await frame.locator(`#${ids.table} tbody tr`).first().waitFor();
      await s.page.waitForTimeout(200);
      await s.screenshot(`results-${theme}`);
      const { page } = await sampleChartColours(frame);
      const pageBg = parseColor(page)!;
      const failures: string[] = [];
      for (const sample of await sampleText(frame)) {
        const { ratio, needed } = textContrast(sample, pageBg);
        if (ratio < needed) failures.push(`${sample.what} ${ratio.toFixed(2)}:1 < ${needed}:1 (${sample.color})`);
      }
      assert.deepEqual(failures, []);
    });
  }
});

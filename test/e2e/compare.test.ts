/**
 * Compare Runs through the real UI of the packaged extension in code-server: two small real runs that differ in their
 * learning rate, opened together from the Runs view's multi-selection; the table sorts, the curves of both are
 * overlaid, the configuration diff marks the learning rate; a run renamed from the view and tagged from the Runs
 * view's context menu shows so in the Runs tree. Readable in dark, light and high-contrast themes (screenshots in
 * test-artifacts/e2e/compare/).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { CompareIds as ids, WebviewIds } from '../../common/src/webviewProtocol';
import { Engine } from '../../server/src/engine/engine';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, requireShared } from '../helpers/shared';
import { contrastRatio, parseColor, sampleChartColours, sampleText, textContrast } from './contrast';
import { CodeServerSession, useSession } from './harness';

const scratch = scratchDirFactory();
const runsDir = path.join(scratch('e2e-compare'), 'runs');
const HIGH = 'lr-high';
const LOW = 'lr-low';
const EPOCHS = 2;
const THEMES = [
  { theme: 'Light Modern', body: 'vscode-light' },
  { theme: 'Dark High Contrast', body: 'vscode-high-contrast' },
  { theme: 'Dark Modern', body: 'vscode-dark' },
];

async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Compare Runs in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  let view: FrameLocator;

  before(async () => {
    // Two real runs, the same but for the learning rate; one evaluated on the test split.
    const engine = new Engine();
    for (const [name, learningRate] of [[HIGH, 0.05], [LOW, 0.001]] as const) {
      const r = await engine.train({ data: requireShared(CI_TINY), out: path.join(runsDir, name), backbone: 'mobilenet_v2', imageSize: 32, epochs: EPOCHS, batchSize: 4, seed: 1, learningRate });
      assert.equal(r.status, 'completed');
    }
    await engine.evaluate({ run: path.join(runsDir, HIGH), data: CI_TINY, split: 'test' });
  });

  useSession({ name: 'compare', settings: { 'cxr.runsDirectory': runsDir } }, async (started) => {
    s = started;
    await s.statusBarItem('cxr.status').filter({ hasText: /CXR:/ }).waitFor({ timeout: 90_000 });
  });

  const rowsInOrder = async (): Promise<string[]> =>
    (await view.locator(`#${ids.table} tbody tr`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run') ?? ''))).map((d) => path.basename(d));

  it('opens from the Runs view with both runs selected, and lists them with their hyper-parameters and metrics', async () => {
    const high = await s.viewRow('Runs', HIGH);
    const low = await s.viewRow('Runs', LOW);
    const body = await s.expandView('Runs');
    // The view's title bar offers it too.
    await body.locator('xpath=..').locator('.pane-header .action-label[aria-label="Compare Runs"]').waitFor({ state: 'attached' });
    await high.click();
    await low.click({ modifiers: ['Control'] });
    await body.locator('.monaco-list-row.selected').nth(1).waitFor();
    const items = await s.rightClickRow(low);
    assert.ok(items.includes('Compare Runs'), items.join(' | '));
    assert.ok(!items.includes('Rename Run'), `renaming is offered for one run at a time: ${items.join(' | ')}`);
    await s.contextMenuItem('Compare Runs');
    await s.tab('Compare Runs').waitFor();
    view = await s.webviewWith(ids.table, 60_000);
    await view.locator(`#${ids.table} tbody tr`).nth(1).waitFor();
    assert.deepEqual((await rowsInOrder()).sort(), [HIGH, LOW]);
    const ticked = view.locator(`#${ids.table} tbody tr input[type=checkbox]:checked`);
    assert.equal(await ticked.count(), 2, 'the two selected runs are ticked');
    const row = (name: string) => view.locator(`#${ids.table} tbody tr[data-run="${path.join(runsDir, name)}"]`);
    assert.equal((await row(HIGH).locator('td[data-column="learningRate"]').innerText()).trim(), '0.05');
    assert.equal((await row(LOW).locator('td[data-column="learningRate"]').innerText()).trim(), '0.001');
    assert.equal((await row(LOW).locator('td[data-column="epochs"]').innerText()).trim(), `${EPOCHS}/${EPOCHS}`);
    assert.match(await row(HIGH).locator('td[data-column="test"]').innerText(), /\d+\.\d%\s+95% CI \d+\.\d%–\d+\.\d% · n=6/);
    assert.match(await row(LOW).locator('td[data-column="test"]').innerText(), /not evaluated/);
    assert.match(await row(LOW).locator('td[data-column="bestValAccuracy"]').innerText(), /^\d+\.\d%$/);
  });

  it('sorts by a column header, both ways, with the keyboard, and says so to screen readers', async () => {
    const lr = view.locator(`#${ids.table} th[data-column="learningRate"]`);
    await lr.locator('button').focus();
    await lr.locator('button').press('Enter');
    await waitUntil(async () => (await lr.getAttribute('aria-sort')) === 'ascending', 5000, 'sorted ascending');
    assert.deepEqual(await rowsInOrder(), [LOW, HIGH]);
    await view.locator(`#${ids.table} th[data-column="learningRate"] button`).press('Enter');
    await waitUntil(async () => (await lr.getAttribute('aria-sort')) === 'descending', 5000, 'sorted descending');
    assert.deepEqual(await rowsInOrder(), [HIGH, LOW]);
    assert.equal(await view.locator(`#${ids.table} th[data-column="createdAt"]`).getAttribute('aria-sort'), 'none');
  });

  it('overlays the training and validation curves of the ticked runs, with a legend', async () => {
    for (const chart of [ids.lossChart, ids.accuracyChart]) {
      const series = JSON.parse((await view.locator(`#${chart}`).getAttribute('data-series')) ?? '[]') as string[];
      assert.deepEqual(series.sort(), [`${HIGH} · train`, `${HIGH} · validation`, `${LOW} · train`, `${LOW} · validation`].sort(), chart);
      assert.match((await view.locator(`#${chart}`).getAttribute('aria-label')) ?? '', /of 2 runs: .*lr-/);
    }
    // Unticking a run takes its curves away.
    await view.locator(`#${ids.table} tbody tr[data-run="${path.join(runsDir, LOW)}"] input[type=checkbox]`).uncheck();
    await waitUntil(async () => JSON.parse((await view.locator(`#${ids.lossChart}`).getAttribute('data-series')) ?? '[]').length === 2, 5000, 'one run left on the chart');
    await view.locator(`#${ids.table} tbody tr[data-run="${path.join(runsDir, LOW)}"] input[type=checkbox]`).check();
    await waitUntil(async () => JSON.parse((await view.locator(`#${ids.lossChart}`).getAttribute('data-series')) ?? '[]').length === 4, 5000, 'both runs on the chart');
  });

  it('diffs the two runs\' configurations, highlighting only the learning rate among the training knobs', async () => {
    const diff = view.locator(`#${ids.diff}`);
    await diff.locator('tbody tr').first().waitFor();
    assert.equal(await diff.locator('tr[data-key="learningRate"]').getAttribute('class'), 'differs');
    for (const key of ['backbone', 'epochs', 'batchSize', 'seed', 'momentum', 'imageSize']) {
      assert.equal(await diff.locator(`tr[data-key="${key}"]`).getAttribute('class'), 'same', key);
    }
    assert.match(await diff.locator('tr[data-key="learningRate"]').innerText(), /0\.05\s+0\.001\s+≠ differs|0\.001\s+0\.05\s+≠ differs/);
    await view.locator(`#${ids.diffOnly}`).check();
    const keys = await diff.locator('tbody tr').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-key')}:${r.className}`));
    assert.ok(keys.includes('learningRate:differs'), keys.join(', '));
    assert.ok(keys.every((k) => k.endsWith(':differs')), keys.join(', '));
    assert.match(await view.locator('#diff-summary').innerText(), new RegExp(`^${keys.length} of \\d+ keys differ`));
    await view.locator(`#${ids.diffOnly}`).uncheck();
  });

  for (const { theme, body } of THEMES) {
    it(`is readable in ${theme}: text at WCAG AA contrast, run colours at 3:1`, async () => {
      await s.setColorTheme(theme);
      await s.tab('Compare Runs').click();
      const frame = await s.webviewWith(ids.table);
      await frame.locator(`body.${body}`).waitFor();
      await frame.locator(`#${ids.table} tbody tr`).nth(1).waitFor();
      await s.page.waitForTimeout(200);
      await s.screenshot(`compare-${theme.toLowerCase().replace(/\s+/g, '-')}`);
      await frame.locator(`#${ids.diff}`).scrollIntoViewIfNeeded();
      await s.screenshot(`compare-${theme.toLowerCase().replace(/\s+/g, '-')}-diff`);
      const { page } = await sampleChartColours(frame);
      const pageBg = parseColor(page)!;
      const failures: string[] = [];
      const samples = await sampleText(frame);
      assert.ok(samples.length >= 20, `only ${samples.length} text elements found`);
      for (const sample of samples) {
        const { ratio, needed } = textContrast(sample, pageBg);
        if (ratio < needed) failures.push(`${sample.what} ${ratio.toFixed(2)}:1 < ${needed}:1 (${sample.color} on ${sample.backgrounds.join(' < ')})`);
      }
      for (const css of JSON.parse((await frame.locator(`#${ids.lossChart}`).getAttribute('data-line-colors')) ?? '[]') as string[]) {
        const ratio = contrastRatio(parseColor(css)!, pageBg);
        if (ratio < 3) failures.push(`run colour ${css} ${ratio.toFixed(2)}:1 < 3:1 against ${page}`);
      }
      assert.deepEqual(failures, [], `${theme}:\n${failures.join('\n')}`);
    });
  }

  it('renames a run from the view and tags one from the Runs view, shown in the Runs tree and kept in meta.json', async () => {
    const renamed = 'High LR baseline';
    view = await s.webviewWith(ids.table);
    await view.locator(`#${ids.table} vscode-button[aria-label="Rename ${HIGH}"]`).click();
    const input = s.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await waitUntil(async () => (await input.inputValue()) === HIGH, 5000, 'the input box offers the current name');
    // A name the run store refuses is offered again with its reason, and nothing is saved.
    await input.fill('x'.repeat(81));
    await input.press('Enter');
    await s.page.locator('.quick-input-widget').filter({ hasText: /Not saved: .*at most 80 characters/ }).waitFor();
    assert.equal(fs.existsSync(path.join(runsDir, HIGH, 'meta.json')), false);
    await input.fill(renamed);
    await input.press('Enter');
    await waitUntil(() => fs.existsSync(path.join(runsDir, HIGH, 'meta.json')), 10_000, 'meta.json is written');
    assert.equal(JSON.parse(fs.readFileSync(path.join(runsDir, HIGH, 'meta.json'), 'utf8')).displayName, renamed);
    await view.locator(`#${ids.table} .run-label`).filter({ hasText: renamed }).waitFor();
    await s.page.mouse.move(1, 1);
    const row = await s.viewRow('Runs', renamed);

    // One run selected (the two are still selected from the first test): renaming and tagging are per run.
    await s.clickRow(await s.viewRow('Runs', LOW));
    // The click opens the run's dashboard; a webview that takes focus late closes a quick input opened meanwhile, and
    // the tree it refreshes can leave the menu's row stale (the command then asks which run): let it settle first.
    await s.tab(`Training: ${LOW}`).waitFor();
    await s.webviewWith(WebviewIds.dashboard.status);
    const items = await s.rightClickRow(await s.viewRow('Runs', LOW));
    assert.ok(items.includes('Edit Run Tags') && items.includes('Rename Run') && items.includes('Edit Run Notes'), items.join(' | '));
    await s.contextMenuItem('Edit Run Tags');
    const title = s.page.locator('.quick-input-widget .quick-input-title');
    await waitUntil(async () => /^Tags of /.test(await title.innerText().catch(() => '')) || (await s.page.locator('.quick-input-widget input[placeholder="Edit the tags of which run?"]').isVisible()), 10_000, 'the tags input or the run pick shows');
    if (!/^Tags of /.test(await title.innerText().catch(() => ''))) await s.quickPick(LOW);
    await title.filter({ hasText: /^Tags of / }).waitFor();
    await s.quickInput('baseline, sweep');
    const lowRow = await s.viewRow('Runs', LOW);
    await lowRow.locator('.label-description').filter({ hasText: /#baseline #sweep$/ }).waitFor();
    // Clicking the run opened its dashboard over the view: revealed again, the view replays its state, tags included.
    await s.tab('Compare Runs').click();
    view = await s.webviewWith(ids.table);
    await view.locator(`#${ids.table} tr[data-run="${path.join(runsDir, LOW)}"] .tag`).filter({ hasText: 'sweep' }).waitFor();
    await view.locator(`#${ids.table} .run-label`).filter({ hasText: renamed }).waitFor();
    assert.ok(await row.isVisible());
    await s.screenshot('renamed-and-tagged');
  });

  it('comes back after a window reload with the runs it had ticked', async () => {
    const untick = view.locator(`#${ids.table} tbody tr[data-run="${path.join(runsDir, LOW)}"] input[type=checkbox]`);
    await untick.uncheck();
    await waitUntil(async () => JSON.parse((await view.locator(`#${ids.lossChart}`).getAttribute('data-series')) ?? '[]').length === 2, 5000, 'one run left on the chart');
    await s.runCommand('Developer: Reload Window');
    await s.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await s.tab('Compare Runs').waitFor({ timeout: 90_000 });
    await s.tab('Compare Runs').click();
    view = await s.webviewWith(ids.table, 90_000);
    await view.locator(`#${ids.table} tbody tr`).nth(1).waitFor({ timeout: 60_000 });
    const ticked = await view.locator(`#${ids.table} tbody tr:has(input[type=checkbox]:checked)`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    assert.deepEqual(ticked, [path.join(runsDir, HIGH)]);
    assert.deepEqual(JSON.parse((await view.locator(`#${ids.lossChart}`).getAttribute('data-series')) ?? '[]'), ['High LR baseline · train', 'High LR baseline · validation']);
    await s.screenshot('restored-after-reload');
  });
});

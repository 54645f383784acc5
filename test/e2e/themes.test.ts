/**
 * The three webviews (training dashboard, evaluation, heatmap viewer) are readable in VS Code's dark, light and both
 * high-contrast themes, measured on the rendered page: every piece of text has a WCAG 2.x AA contrast ratio against
 * the background actually behind it (4.5:1, large text 3:1), and the curves of the dashboard's charts are drawn in
 * colours that reach 3:1 (non-text contrast) against the page. Screenshots of each view in each theme go
 * to test-artifacts/e2e/themes/. The same views read to a screen reader (test/e2e/accessibility.ts: landmark, heading,
 * named controls, live announcements, the numbers behind each chart) and one action in each works by keyboard alone.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { Engine } from '../../server/src/engine/engine';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { canvasPixelsNear, contrastRatio, parseColor, sampleChartColours, sampleText, textContrast } from './contrast';
import { auditAccessibility, tabTo } from './accessibility';
import { CodeServerSession, useSession } from './harness';

const dash = WebviewIds.dashboard;
const evalIds = WebviewIds.evaluation;
const heat = WebviewIds.heatmap;
const IMAGE = 'data/ci-tiny/test/Covid/0105.png';
const EPOCHS = 3;
const scratch = scratchDirFactory();
const outside = scratch('e2e-themes');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'themed');
const THEMES = [
  { theme: 'Dark Modern', body: 'vscode-dark' },
  { theme: 'Light Modern', body: 'vscode-light' },
  { theme: 'Dark High Contrast', body: 'vscode-high-contrast' },
  { theme: 'Light High Contrast', body: 'vscode-high-contrast-light' },
];

describe('CXR Studio webviews in four colour themes', { timeout: 600_000 }, () => {
  let s: CodeServerSession;

  before(async () => {
    // A small real run with a few epochs of curves and a saved evaluation with misclassified thumbnails.
    const engine = new Engine();
    await engine.train({
      data: requireShared(CI_TINY), out: run, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST),
      imageSize: 96, epochs: EPOCHS, batchSize: 4, seed: 2,
    });
    await engine.evaluate({ run, data: CI_TINY, split: 'test' });
  });

  useSession(
    { name: 'themes', settings: { 'cxr.runsDirectory': runsDir, 'cxr.activeModel': run, 'cxr.dataRoots': [path.dirname(CI_TINY)] } },
    async (started) => {
      s = started;
      await s.statusBarItem('cxr.status').filter({ hasText: /· themed$/ }).waitFor({ timeout: 90_000 });
    },
  );

  const views: { name: string; tab: () => string; id: string; ready: (v: FrameLocator) => Promise<unknown> }[] = [
    {
      name: 'dashboard',
      tab: () => `Training: ${path.basename(run)}`,
      id: dash.lossChart,
      ready: (v) => v.locator(`#${dash.lossChart}[data-epoch-points="${EPOCHS}"]`).waitFor(),
    },
    {
      name: 'evaluation',
      tab: () => `Evaluation: ${path.basename(run)} (test)`,
      id: evalIds.accuracy,
      ready: (v) => v.locator(`#${evalIds.accuracy}`).filter({ hasText: /%/ }).waitFor(),
    },
    {
      name: 'heatmap',
      tab: () => path.basename(IMAGE),
      id: heat.canvas,
      ready: async (v) => {
        await v.locator(`#${heat.predicted}`).filter({ hasText: /^(Covid|Normal|Viral Pneumonia|Uncertain|Refused)\b/ }).waitFor({ timeout: 60_000 });
        await v.locator(`#${heat.canvas}`).waitFor({ state: 'visible' });
      },
    },
  ];

  it('opens the dashboard, the saved evaluation and the heatmap viewer', async () => {
    await s.clickRow(await s.viewRow('Runs', path.basename(run)));
    await s.webviewWith(dash.lossChart, 60_000);
    await s.page.mouse.move(1, 1); // the tree row's hover would cover the quick pick
    await s.runCommand('CXR: Open Evaluation');
    await s.quickInput(path.basename(run));
    await s.webviewWith(evalIds.accuracy, 60_000);
    await s.rightClickExplorer(IMAGE);
    await s.contextMenuItem('Show Heatmap');
    await s.webviewWith(heat.canvas, 60_000);
    for (const v of views) await s.tab(v.tab()).waitFor();
    await s.clearNotifications().catch(() => undefined);
  });

  it('reads to a screen reader (landmark, heading, named controls, live results, tables behind the charts) and works by keyboard', async () => {
    const viewOf = async (i: number): Promise<FrameLocator> => {
      await s.tab(views[i].tab()).click();
      const frame = await s.webviewWith(views[i].id);
      await views[i].ready(frame);
      return frame;
    };
    const noProblems = async (name: string, frame: FrameLocator): Promise<string> => {
      const { snapshot, problems } = await auditAccessibility(frame);
      assert.deepEqual(problems, [], `${name}:\n${snapshot}`);
      return snapshot;
    };

    // Dashboard: the end of training is announced; the charts' numbers are in a named table; Show logs by keyboard.
    let v = await viewOf(0);
    await noProblems('dashboard', v);
    assert.match((await v.locator('#dashboard-announcer').textContent()) ?? '', new RegExp(`^Training completed: ${EPOCHS} of ${EPOCHS} epochs run, best epoch \\d+\\.$`));
    assert.equal(await v.getByRole('img', { name: 'Training and validation loss per epoch' }).getAttribute('aria-describedby'), 'epochs-caption');
    assert.equal(await v.getByRole('table', { name: /^Loss and accuracy per epoch/ }).locator('tbody tr').count(), EPOCHS);
    await tabTo(s.page, v.locator('h1'), v.getByRole('button', { name: 'Show logs' }));
    await s.page.keyboard.press('Enter');
    const panel = s.page.locator('.part.panel');
    await panel.locator('.view-lines').first().waitFor();
    await s.runCommand('View: Hide Panel');
    await panel.waitFor({ state: 'hidden' });

    // Evaluation: the result is announced; the curves are described by their legend; the normalise toggle by Space.
    v = await viewOf(1);
    await noProblems('evaluation', v);
    assert.match((await v.locator('#evaluation-announcer').textContent()) ?? '', /^Evaluation of themed on the test split, \d+ images: accuracy \d+\.\d%/);
    assert.equal(await v.getByRole('img', { name: 'ROC curves, one per class' }).getAttribute('aria-describedby'), evalIds.curveLegend);
    assert.match(await v.locator(`#${evalIds.curveLegend}`).innerText(), /AUC/);
    const matrix = v.locator(`#${evalIds.confusionMatrix}`);
    await tabTo(s.page, v.locator('#eval-title'), v.locator(`#${evalIds.normalize}`));
    await s.page.keyboard.press('Space');
    await matrix.locator('caption', { hasText: 'share of the row' }).waitFor();
    await s.page.keyboard.press('Space');
    await matrix.locator('caption', { hasText: 'image counts' }).waitFor();

    // Heatmap viewer: the overlay has a text alternative saying where it is strong; the opacity slider by arrow keys.
    v = await viewOf(2);
    await noProblems('heatmap', v);
    const overlay = await v.locator(`#${heat.canvas}`).getAttribute('aria-label');
    assert.match(overlay ?? '', /^(CAM|Grad-CAM) heatmap for .+, (strongest in the (upper|middle|lower) (left|centre|right)|strongest in the centre|flat)/);
    assert.ok(((await v.locator('#heatmap-announcer').textContent()) ?? '').endsWith(`${overlay}.`), 'the prediction and the overlay are announced');
    await tabTo(s.page, v.locator(`#${heat.predicted}`), v.locator(`#${heat.opacity}`));
    await s.page.keyboard.press('ArrowRight');
    await v.locator('#opacity-value').filter({ hasText: /^40%$/ }).waitFor();
    await s.page.keyboard.press('ArrowLeft');
    await v.locator('#opacity-value').filter({ hasText: /^35%$/ }).waitFor();
  });

  for (const { theme, body } of THEMES) {
    it(`is readable in ${theme}: text at WCAG AA contrast, chart colours at 3:1`, async () => {
      await s.setColorTheme(theme);
      const failures: string[] = [];
      for (const v of views) {
        await s.tab(v.tab()).click();
        const frame = await s.webviewWith(v.id);
        await frame.locator(`body.${body}`).waitFor();
        await v.ready(frame);
        await s.page.waitForTimeout(200); // let the chart and the image paint
        await s.screenshot(`${theme.toLowerCase().replace(/\s+/g, '-')}-${v.name}`);

        const { page } = await sampleChartColours(frame);
        const pageBg = parseColor(page);
        assert.ok(pageBg && pageBg[3] === 1, `${v.name}: the page has an opaque background (${page})`);
        const samples = await sampleText(frame);
        assert.ok(samples.length >= 5, `${v.name}: only ${samples.length} text elements found`);
        for (const sample of samples) {
          const { ratio, needed } = textContrast(sample, pageBg);
          if (ratio < needed) failures.push(`${v.name}: ${sample.what} ${ratio.toFixed(2)}:1 < ${needed}:1 (${sample.color} on ${sample.backgrounds.join(' < ')})`);
        }
        if (v.name === 'dashboard') {
          for (const chart of [dash.lossChart, dash.accuracyChart]) {
            const lines = JSON.parse((await frame.locator(`#${chart}`).getAttribute('data-line-colors')) ?? '{}') as Record<string, string>;
            assert.deepEqual(Object.keys(lines).sort(), ['batch', 'train', 'val'], `${chart}: the colours it draws in`);
            for (const [name, css] of Object.entries(lines)) {
              const c = parseColor(css);
              assert.ok(c, `${chart} ${name}: ${css}`);
              const ratio = contrastRatio(c, pageBg);
              if (ratio < 3) failures.push(`dashboard: ${chart} ${name} curve ${css} ${ratio.toFixed(2)}:1 < 3:1 against ${page}`);
            }
            // Those are the colours on the canvas (the training curve's, at least).
            const drawn = await canvasPixelsNear(frame, `#${chart}`, parseColor(lines.train)!);
            assert.ok(drawn > 20, `only ${drawn} pixels of ${chart} are in the training colour ${lines.train}`);
          }
        }
      }
      assert.deepEqual(failures, [], `${theme}:\n${failures.join('\n')}`);
    });
  }
});

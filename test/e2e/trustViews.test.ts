/**
 * The trust views and commands in code-server, on a small real run (MobileNetV2 trained briefly on ci-tiny and
 * evaluated on its test split): the dataset audit report, the shortcut audits from the Runs view (which open the
 * model card showing them), the model card from the palette, and the Runs view's export, which writes the model card
 * beside the model. Screenshots of the audit report and the model card in dark, light and high-contrast themes go to
 * test-artifacts/e2e/trust-views/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { Engine } from '../../server/src/engine/engine';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { trainTinyRun, CodeServerSession, useSession } from './harness';

const scratch = scratchDirFactory();
const outside = scratch('e2e-trust-views');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'trusted-run');
const NAME = path.basename(run);
const THEMES = ['Dark Modern', 'Light Modern', 'Dark High Contrast'];

describe('CXR Studio trust views: dataset audit, shortcut audits, model card, export with the card', { timeout: 600_000 }, () => {
  let s: CodeServerSession;

  before(async () => {
    const engine = new Engine();
    await trainTinyRun(engine, run, 2);
    await engine.evaluate({ run, data: CI_TINY, split: 'test' });
  });

  useSession(
    { name: 'trust-views', settings: { 'cxr.runsDirectory': runsDir, 'cxr.activeModel': run, 'cxr.dataRoots': [path.dirname(CI_TINY)] } },
    async (started) => {
      s = started;
      await s.statusBarItem('cxr.status').filter({ hasText: new RegExp(`· ${NAME}$`) }).waitFor({ timeout: 90_000 });
    },
  );

  /** The Markdown preview (a built-in webview) whose page holds `selector`. */
  async function preview(selector: string, timeoutMs: number): Promise<FrameLocator> {
    const frame = await s.webviewMatching(selector, timeoutMs);
    await frame.locator(selector).first().waitFor();
    return frame;
  }

  /** Screenshots the open preview showing `heading` in each theme (a later preview replaces it in its tab). */
  async function screenshotInThemes(view: string, heading: string): Promise<void> {
    for (const theme of THEMES) {
      await s.setColorTheme(theme);
      await preview(heading, 30_000);
      await s.page.waitForTimeout(300); // the preview repaints in the new theme
      const file = await s.screenshot(`${theme.toLowerCase().replace(/\s+/g, '-')}-${view}`);
      assert.ok(fs.statSync(file).size > 10_000, file);
    }
  }

  it('audits a dataset from the palette and shows the report', async () => {
    await s.runCommand('CXR: Audit Dataset');
    await s.quickInput('ci-tiny');
    const report = await preview('h1:has-text("Dataset audit: ci-tiny")', 180_000);
    await report.locator('h2:has-text("Findings")').waitFor();
    assert.match(await report.locator('body').innerText(), /18 images, classes Covid, Normal, Viral Pneumonia/);
    await s.clearNotifications().catch(() => undefined);
    await screenshotInThemes('audit', 'h1:has-text("Dataset audit: ci-tiny")');
  });

  it('runs the shortcut audits from the Runs view and opens the model card showing them', async () => {
    const items = await s.rightClickRow(await s.viewRow('Runs', NAME));
    assert.ok(items.includes('Audit Model for Shortcuts'), items.join(' | '));
    await s.contextMenuItem('Audit Model for Shortcuts');
    const toast = await s.waitToast(new RegExp(`^${NAME}, 6 test images: `), 240_000);
    assert.match(await toast.innerText(), /lung field hidden|lungs hidden|Not measured/i);
    const card = await preview(`h1:has-text("Model card: ${NAME}")`, 60_000);
    const text = await card.locator('body').innerText();
    assert.match(text, /Shortcut audits\s+On the test split of/);
    for (const check of ['lungs-masked', 'border-only', 'lung-field-energy', 'weight-randomisation']) assert.ok(text.includes(check), `${check} in the card`);
    await s.clearNotifications().catch(() => undefined);
  });

  it('shows the model card from the palette: intended use, metrics with intervals, calibration', async () => {
    await s.runCommand('CXR: Show Model Card');
    await s.quickInput(NAME);
    const card = await preview(`h1:has-text("Model card: ${NAME}")`, 60_000);
    const text = await card.locator('body').innerText();
    assert.match(text, /Research and teaching only\. Not a medical device/);
    assert.match(text, /Accuracy \d+\.\d% \(\d\/6; 95% Wilson interval \d+\.\d%-\d+\.\d%\)/);
    assert.match(text, /Temperature scaling fitted on the \d+ validation images: T = \d/);
    await screenshotInThemes('model-card', `h1:has-text("Model card: ${NAME}")`);
  });

  it('draws the reliability diagram of the saved evaluation as a chart, its numbers in a table', async () => {
    const saved = JSON.parse(fs.readFileSync(path.join(run, 'evaluation', 'test', 'evaluation.json'), 'utf8')) as {
      calibration: { calibrated: { ece: number; bins: { count: number; accuracy: number | null }[] } | null; raw: { ece: number; bins: { count: number; accuracy: number | null }[] } };
    };
    const report = saved.calibration.calibrated ?? saved.calibration.raw;
    const filled = report.bins.filter((b) => b.count > 0);
    await s.page.mouse.move(1, 1);
    await s.runCommand('CXR: Open Evaluation');
    await s.quickInput(NAME);
    const view = await s.webviewWith('reliability-chart', 60_000);
    const chart = view.locator('#reliability-chart svg[role="img"]');
    await chart.waitFor();
    assert.match((await chart.getAttribute('aria-label')) ?? '', new RegExp(`expected calibration error ${report.ece.toFixed(3)}`));
    assert.equal(await view.locator('#reliability-chart .reliability-bar').count(), filled.filter((b) => b.accuracy !== null).length);
    assert.equal(await view.locator('#reliability-table tbody tr').count(), filled.length);
    assert.equal(filled.reduce((a, b) => a + b.count, 0), 6, 'the 6 test images');
    // The bars are drawn in the theme's chart colour, not left black.
    const fill = await view.locator('#reliability-chart .reliability-bar').first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { fill: string } }).getComputedStyle(el).fill);
    assert.notEqual(fill, 'rgb(0, 0, 0)');
    await view.locator('#reliability-section').scrollIntoViewIfNeeded();
    await s.screenshot('reliability-diagram');
  });

  it('exports the run from the Runs view with its model card beside the model', async () => {
    await s.page.mouse.move(1, 1);
    const items = await s.rightClickRow(await s.viewRow('Runs', NAME));
    await s.contextMenuItem(items.find((i) => i.startsWith('Export Model')) ?? 'Export Model (ONNX / TF.js)...');
    await s.quickPick('onnx');
    // code-server's save dialog is a quick input holding the proposed path (the run's export/model.onnx): take it.
    const input = s.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    let proposed = await input.inputValue();
    for (let i = 0; i < 100 && !proposed.endsWith('.onnx'); i++) {
      await s.page.waitForTimeout(100);
      proposed = await input.inputValue();
    }
    assert.equal(proposed, path.join(run, 'export', 'model.onnx'));
    await input.press('Enter');
    await s.waitToast(/with its model card model\.model-card\.md/, 120_000);
    const card = path.join(run, 'export', 'model.model-card.md');
    assert.ok(fs.statSync(proposed).size > 1e6, 'the ONNX model was written');
    assert.match(fs.readFileSync(card, 'utf8'), new RegExp(`^# Model card: ${NAME}\\n[\\s\\S]*## This export\\n\\n- ONNX model \`model\\.onnx\``));
    await s.clearNotifications().catch(() => undefined);
  });
});

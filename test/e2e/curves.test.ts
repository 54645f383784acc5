/**
 * The evaluation's reviewer curves in code-server: ROC and precision-recall per class with AUC in the legend, the
 * threshold control (keyboard and number box) changing sensitivity and specificity, and a confusion-matrix cell listing
 * its images, one of which opens the heatmap viewer with its true label. The numbers on screen are checked against the
 * run's evaluation.json; screenshots in dark, light and high-contrast themes go to test-artifacts/e2e/curves/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { WebviewIds } from '../../common/src/webviewProtocol';
import type { EvaluateResult } from '../../server/src/engine/api';
import { operatingPointAt } from '../../server/src/engine/eval/curves';
import { Engine } from '../../server/src/engine/engine';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { canvasPixelsNear, contrastRatio, parseColor, sampleChartColours, sampleText, textContrast } from './contrast';
import { trainTinyRun, CodeServerSession, escapeRegExp, useSession } from './harness';

const ids = WebviewIds.evaluation;
const scratch = scratchDirFactory();
const outside = scratch('e2e-curves');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'curves');
const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);

describe('Evaluation curves, threshold and confusion drill-down in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  let evaluation: EvaluateResult;
  let view: FrameLocator;

  before(async () => {
    // A small real run (ci-tiny, 96 px, 2 epochs) and its saved evaluation of the six test images.
    const engine = new Engine();
    await trainTinyRun(engine, run, 2);
    evaluation = await engine.evaluate({ run, data: CI_TINY, split: 'test' });
  });

  useSession(
    { name: 'curves', settings: { 'cxr.runsDirectory': runsDir, 'cxr.activeModel': run, 'cxr.dataRoots': [path.dirname(CI_TINY)] } },
    async (started) => {
      s = started;
      await s.statusBarItem('cxr.status').filter({ hasText: /· curves$/ }).waitFor({ timeout: 90_000 });
    },
  );

  it('draws ROC and precision-recall curves per class with the AUCs of evaluation.json in the legend', async () => {
    await s.setColorTheme('Dark Modern');
    await s.runCommand('CXR: Open Evaluation');
    await s.quickInput(path.basename(run));
    view = await s.webviewWith(ids.rocChart, 60_000);
    const saved = JSON.parse(fs.readFileSync(path.join(run, 'evaluation', 'test', 'evaluation.json'), 'utf8')) as EvaluateResult;
    assert.equal(saved.curves?.length, 3, 'evaluation.json holds one curve per class');
    for (const chart of [ids.rocChart, ids.prChart]) await view.locator(`#${chart}[data-series="3"]`).waitFor();
    const legend = view.locator(`#${ids.curveLegend} li[data-class]`);
    assert.equal(await legend.count(), 3);
    for (const [k, curve] of saved.curves!.entries()) {
      const text = await view.locator(`#${ids.curveLegend} li[data-class="${curve.className}"]`).innerText();
      assert.ok(curve.auc !== null, `${curve.className} has an AUC on six images, two per class`);
      assert.match(text, new RegExp(`^${escapeRegExp(curve.className)}: ROC-AUC ${curve.auc.toFixed(3)} \\(95% bootstrap CI \\d\\.\\d\\d–\\d\\.\\d\\d\\) · average precision ${curve.averagePrecision!.toFixed(3)} · 2 of 6 images`), text);
      const ci = saved.bootstrap!.perClassAuc![k]!;
      assert.ok(text.includes(`${ci.low.toFixed(2)}–${ci.high.toFixed(2)}`), `${text} shows the bootstrap interval ${JSON.stringify(ci)}`);
    }
    // The curves are drawn: pixels of each class's colour on both canvases.
    for (const chart of [ids.rocChart, ids.prChart]) {
      const colors = JSON.parse((await view.locator(`#${chart}`).getAttribute('data-line-colors')) ?? '{}') as Record<string, string>;
      assert.deepEqual(Object.keys(colors).sort(), ['Covid', 'Normal', 'Viral Pneumonia']);
      const drawn = await canvasPixelsNear(view, `#${chart}`, parseColor(colors.Covid)!, 12);
      assert.ok(drawn > 20, `${chart}: only ${drawn} pixels in the Covid colour ${colors.Covid}`);
    }
    await view.locator('#curves-section').scrollIntoViewIfNeeded();
    await s.screenshot('curves-dark');
  });

  it('moves the threshold with the keyboard and the number box; sensitivity, specificity and counts follow', async () => {
    const curve = evaluation.curves![0];
    const sensitivity = view.locator(`#${ids.sensitivity}`);
    const specificity = view.locator(`#${ids.specificity}`);
    const expectAt = async (threshold: number) => {
      const op = operatingPointAt(curve, threshold);
      await sensitivity.filter({ hasText: new RegExp(`^${escapeRegExp(pct(op.sensitivity))}$`) }).waitFor({ timeout: 5000 });
      await specificity.filter({ hasText: new RegExp(`^${escapeRegExp(pct(op.specificity))}$`) }).waitFor({ timeout: 5000 });
      const detail = await view.locator(`#${ids.sensitivity}-detail`).innerText();
      assert.match(detail, new RegExp(`^${op.tp} of ${curve.positives} ${curve.className} images · 95% CI ${escapeRegExp(pct(op.sensitivityCi.low))}–${escapeRegExp(pct(op.sensitivityCi.high))}$`));
      assert.equal(await view.locator(`#${ids.thresholdCounts} td[data-count="tn"]`).innerText(), `${op.tn} TN`);
      // The operating point drawn on the ROC chart is (1 - specificity, sensitivity).
      assert.equal(await view.locator(`#${ids.rocChart}`).getAttribute('data-marker'), `${(1 - op.specificity!).toFixed(4)},${op.sensitivity!.toFixed(4)}`);
      return op;
    };
    assert.equal(await view.locator(`#${ids.thresholdClass}`).inputValue(), curve.className);
    await expectAt(0.5);
    const slider = view.locator(`#${ids.thresholdSlider}`);
    await slider.focus();
    await slider.press('Home'); // threshold 0: every image called Covid
    const all = await expectAt(0);
    assert.deepEqual([all.sensitivity, all.specificity], [1, 0]);
    assert.equal(await view.locator(`#${ids.thresholdInput}`).inputValue(), '0');
    await slider.press('End'); // threshold 1: only a probability of exactly 1 would still be called Covid
    const none = await expectAt(1);
    assert.notDeepEqual([none.sensitivity, none.specificity], [all.sensitivity, all.specificity], 'moving the threshold changed the numbers');
    // A threshold between the Covid images' scores, typed into the number box.
    const scores = curve.points.map((p) => p.threshold);
    const between = Number(((scores[0] + scores[1]) / 2).toFixed(4));
    await view.locator(`#${ids.thresholdInput}`).fill(String(between));
    const mid = await expectAt(between);
    assert.equal(mid.tp, curve.points[0].tp);
    // Another class: the control follows it.
    await view.locator(`#${ids.thresholdClass}`).selectOption('Normal');
    await view.locator('#threshold-explain').filter({ hasText: /called Normal when its probability of Normal/ }).waitFor();
    await view.locator('#threshold-section').scrollIntoViewIfNeeded();
    await s.screenshot('threshold-dark');
  });

  it('lists a confusion-matrix cell\'s images by confidence (click or Enter) and opens one in the heatmap viewer with its true label', async () => {
    const classes = evaluation.classes;
    const cells = evaluation.confusion_matrix.flatMap((row, i) => row.map((count, j) => ({ i, j, count }))).filter((c) => c.count > 0);
    // An off-diagonal (misclassified) cell when there is one, and the largest cell.
    const wrong = cells.find((c) => c.i !== c.j);
    const biggest = [...cells].sort((a, b) => b.count - a.count)[0];
    const expected = (i: number, j: number) =>
      evaluation.predictions
        .filter((p) => p.trueLabel === classes[i] && p.label === classes[j])
        .sort((a, b) => b.probabilities[b.label] - a.probabilities[a.label])
        .map((p) => p.file);
    const cell = (c: { i: number; j: number }) => view.locator(`#${ids.confusionMatrix} td.cm-cell[data-row="${c.i}"][data-col="${c.j}"]`);
    const listed = view.locator(`#${ids.cellImages} button.cell-image`);

    await cell(biggest).click();
    await view.locator('#cell-images-title').filter({ hasText: `(${biggest.count}, most confident first)` }).waitFor();
    assert.deepEqual(await listed.evaluateAll((els) => els.map((e) => e.getAttribute('data-file'))), expected(biggest.i, biggest.j));
    assert.equal(await cell(biggest).getAttribute('aria-pressed'), 'true');

    const target = wrong ?? cells.find((c) => c !== biggest) ?? biggest;
    await cell(target).focus();
    await cell(target).press('Enter');
    const files = expected(target.i, target.j);
    await view.locator('#cell-images-title').filter({ hasText: `(${files.length}, most confident first)` }).waitFor();
    assert.deepEqual(await listed.evaluateAll((els) => els.map((e) => e.getAttribute('data-file'))), files);
    assert.equal(await listed.first().locator('img').count(), 1, 'a thumbnail');
    await view.locator('#cell-images-section').scrollIntoViewIfNeeded();
    await s.screenshot('cell-images-dark');

    await listed.first().press('Enter');
    const name = path.basename(files[0]);
    await s.tab(`Heatmap: ${name}`).waitFor({ timeout: 30_000 });
    const heatmap = await s.webviewWith(WebviewIds.heatmap.trueLabel, 60_000);
    await heatmap.locator(`#${WebviewIds.heatmap.trueLabel}`).filter({ hasText: new RegExp(`^True label: ${escapeRegExp(classes[target.i])} \\(prediction (correct|wrong)\\)$`) }).waitFor({ timeout: 90_000 });
    const verdict = classes[target.i] === classes[target.j] ? 'correct' : 'wrong';
    assert.match(await heatmap.locator(`#${WebviewIds.heatmap.trueLabel}`).innerText(), new RegExp(`prediction ${verdict}`));
    await heatmap.locator(`#${WebviewIds.heatmap.predicted}`).filter({ hasText: new RegExp(`^${escapeRegExp(classes[target.j])} \\(`) }).waitFor();
    await s.screenshot('heatmap-from-cell');
    await s.runCommand('View: Close Editor');
    await s.tab(`Heatmap: ${name}`).waitFor({ state: 'detached' });
  });

  for (const theme of ['Light Modern', 'Dark High Contrast']) {
    it(`is readable in ${theme}: curves, threshold and cell list`, async () => {
      await s.setColorTheme(theme);
      await s.tab(/^Evaluation: curves/).click();
      const frame = await s.webviewWith(ids.rocChart);
      await frame.locator(`body.${theme === 'Light Modern' ? 'vscode-light' : 'vscode-high-contrast'}`).waitFor();
      await s.page.waitForTimeout(300); // the charts repaint on the theme change
      const { page } = await sampleChartColours(frame);
      const pageBg = parseColor(page)!;
      const failures: string[] = [];
      for (const sample of await sampleText(frame)) {
        const { ratio, needed } = textContrast(sample, pageBg);
        if (ratio < needed) failures.push(`${sample.what} ${ratio.toFixed(2)}:1 < ${needed}:1`);
      }
      const slug = theme.toLowerCase().replace(/\s+/g, '-');
      for (const [section, chart] of [['#curves-section', ids.rocChart], ['#threshold-section', ids.prChart]]) {
        await frame.locator(section).scrollIntoViewIfNeeded();
        await s.screenshot(`${section.slice(1)}-${slug}`);
        const colors = JSON.parse((await frame.locator(`#${chart}`).getAttribute('data-line-colors')) ?? '{}') as Record<string, string>;
        for (const [name, css] of Object.entries(colors)) {
          const ratio = contrastRatio(parseColor(css)!, pageBg);
          if (ratio < 3) failures.push(`${chart} ${name} ${css} ${ratio.toFixed(2)}:1 < 3:1`);
        }
      }
      await frame.locator('#cell-images-section').scrollIntoViewIfNeeded();
      await s.screenshot(`cell-images-${slug}`);
      assert.deepEqual(failures, [], failures.join('\n'));
    });
  }
});

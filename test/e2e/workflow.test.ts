/**
 * The main workflow through the real UI, on a workspace copy of ci-tiny: train from the palette (quick picks, progress,
 * dashboard), see the run in the Runs view, evaluate it on the test split, classify an image from the explorer's
 * context menu, open its heatmap.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { CodeServerSession, escapeRegExp, useSession, STATUS_ENGINE } from './harness';

const CLASSES = /(Covid|Normal|Viral Pneumonia)/;
const IMAGE = 'data/ci-tiny/test/Covid/0105.png';

describe('CXR Studio workflow in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  let runDir: string;

  useSession({ name: 'workflow' }, async (started) => {
    s = started;
    await s.statusBarItem('cxr.status').filter({ hasText: new RegExp(`\\b${STATUS_ENGINE}`) }).waitFor({ timeout: 90_000 });
  });

  it('trains one epoch of MobileNetV2 on ci-tiny from the palette and shows it on the dashboard', async () => {
    await s.runCommand('CXR: Train Model');
    await s.quickPick('ci-tiny');
    await s.quickPick('MobileNetV2');
    await s.quickInput('1');

    const t0 = Date.now();
    const toast = await s.waitToast(/training completed/, 300_000);
    s.timings['train-1-epoch'] = Date.now() - t0;
    assert.match(await toast.innerText(), /after 1 epochs?/);

    const runs = fs.readdirSync(s.runsDir);
    assert.equal(runs.length, 1, `one run folder in ${s.runsDir}: ${runs.join(', ')}`);
    runDir = path.join(s.runsDir, runs[0]);
    const status = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')) as { status: string; epochsRun: number };
    assert.equal(status.status, 'completed');
    assert.equal(status.epochsRun, 1);
    assert.ok(fs.readdirSync(path.join(runDir, 'model')).length > 0, 'best model saved');

    const dashboard = s.webviewFrame();
    await dashboard.locator(`#${WebviewIds.dashboard.status}`).filter({ hasText: 'completed' }).waitFor();
    assert.equal(await dashboard.locator(`#${WebviewIds.dashboard.epochTable} tbody tr`).count(), 1);
  });

  it('lists the new run in the Runs view', async () => {
    assert.ok(runDir, 'a run was trained');
    await s.openContainer('CXR Studio');
    const runsView = await s.expandView('Runs');
    await runsView.locator('.monaco-list-row').filter({ hasText: path.basename(runDir) }).first().waitFor();
  });

  it('evaluates the run on the test split from the palette and shows the evaluation', async () => {
    assert.ok(runDir, 'a run was trained');
    await s.runCommand('CXR: Evaluate Model');
    await s.quickPick(new RegExp(escapeRegExp(path.basename(runDir))));
    await s.quickPick('test');
    const evaluation = s.webviewFrame();
    const accuracy = evaluation.locator(`#${WebviewIds.evaluation.accuracy}`);
    await accuracy.filter({ hasText: /\d+(\.\d+)?%/ }).waitFor({ timeout: 120_000 });
    // ci-tiny's test split: 3 classes x 2 images; the matrix has a row per class.
    assert.ok((await evaluation.locator(`#${WebviewIds.evaluation.confusionMatrix} tr`).count()) >= 3);
    const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'evaluation', 'test', 'evaluation.json'), 'utf8')) as { n: number; accuracy: number };
    assert.equal(saved.n, 6);
    const shown = parseFloat(await accuracy.innerText());
    assert.ok(Math.abs(shown - saved.accuracy * 100) < 0.6, `shown ${shown}%, saved ${saved.accuracy}`);
  });

  it('classifies an image from the explorer context menu with the new (active) model', async () => {
    assert.ok(runDir, 'a run was trained');
    const items = await s.rightClickExplorer(IMAGE);
    assert.ok(items.includes('Classify Image') && items.includes('Show Heatmap'), `context menu: ${items.join(' | ')}`);
    await s.contextMenuItem('Classify Image');
    const toast = await s.waitToast(/not a diagnosis/, 60_000);
    const text = await toast.innerText();
    assert.match(text, new RegExp(`${CLASSES.source} \\(\\d+\\.\\d%\\)`));
    assert.ok(text.includes(path.basename(IMAGE)), text);
  });

  it('opens the heatmap editor with the prediction and the overlay', async () => {
    assert.ok(runDir, 'a run was trained');
    await s.page.keyboard.press('Escape');
    await s.rightClickExplorer(IMAGE);
    await s.contextMenuItem('Show Heatmap');
    const heatmap = s.webviewFrame();
    const predicted = heatmap.locator(`#${WebviewIds.heatmap.predicted}`);
    await predicted.filter({ hasText: new RegExp(`${CLASSES.source}|^Refused: `) }).waitFor({ timeout: 60_000 });
    // A confident or uncertain prediction names its class and calibrated probability; a refused input names no class.
    assert.match(await predicted.innerText(), new RegExp(`^(Uncertain: leaning )?${CLASSES.source} \\(\\d+(\\.\\d)?%\\)$|^Refused: (not a chest radiograph|unlike the training images)$`));
    assert.ok(await heatmap.locator(`#${WebviewIds.heatmap.image}`).getAttribute('src'), 'image shown');
    assert.equal(await heatmap.locator(`#${WebviewIds.heatmap.probabilities}`).locator(':scope > *').count() > 0, true);
  });
});

/**
 * Every view and command of CXR Studio through the real UI, in one code-server session on a workspace copy of ci-tiny
 * (MobileNetV2): the status bar, the Datasets tree, the training dashboard following live trainings that are cancelled
 * from the palette, the dashboard and the progress notification, Resume, the Runs view's context actions, the
 * evaluation report, the heatmap viewer's controls and its "no active model" state. Readability in the four colour
 * themes is measured in themes.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { FrameLocator, Locator } from 'playwright-core';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { CodeServerSession, escapeRegExp, useSession, waitUntil, STATUS_ENGINE, STATUS_BACKEND } from './harness';

const CLASSES = ['Covid', 'Normal', 'Viral Pneumonia'];
const CLASS_RE = new RegExp(`^(Uncertain: leaning |Refused: )?(${CLASSES.join('|')})|^Refused: `);
/** Long enough that every training here is cancelled long before it would finish (0.1 to 1 s per epoch here). */
const EPOCHS = 1000;
/**
 * A copy of ci-tiny whose test folders Covid and Normal are swapped. A model trained on it learns the train labels and
 * then misclassifies test images, so the evaluation always has misclassified thumbnails to open, however well the
 * (few) training epochs went; ci-tiny's own test split is often classified perfectly.
 */
const RELABELLED = 'ci-tiny-relabelled';
const ENGINE = new RegExp(`\\b${STATUS_ENGINE}`);
const dash = WebviewIds.dashboard;
const evalIds = WebviewIds.evaluation;
const heat = WebviewIds.heatmap;

interface StatusFile {
  status: string;
  epochsRun: number;
  bestEpoch: number | null;
}

interface SavedEvaluation {
  classes: string[];
  accuracy: number;
  confusion_matrix: number[][];
  predictions: { file: string; correct: boolean }[];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function runStatus(runDir: string): StatusFile {
  return readJson<StatusFile>(path.join(runDir, 'status.json'));
}

/**
 * Waits until every image matching `selector` in a webview has loaded. Leaving a webview (closing it, or hiding it,
 * which disposes it) while it still loads images stalls the next webview VS Code creates for 30 s: its service worker
 * cannot take over until the old one's requests time out.
 */
async function imagesLoaded(frame: FrameLocator, selector: string): Promise<void> {
  const images = frame.locator(selector);
  // Lazy images load once near the viewport.
  await images.last().scrollIntoViewIfNeeded();
  await waitUntil(
    async () => (await images.evaluateAll((els) => els.every((img) => img.complete && img.naturalWidth > 0))) === true,
    15_000,
    `the images ${selector} load`,
  );
}

async function numberAttr(locator: Locator, name: string): Promise<number> {
  return Number((await locator.getAttribute(name)) ?? 'NaN');
}

function exactly(text: string): RegExp {
  return new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`);
}

describe('CXR Studio views and commands in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  /** Trained on RELABELLED, cancelled from the progress notification; evaluated; kept to the end. */
  let runA = '';
  /** Cancelled from the palette, resumed, cancelled from the dashboard, made active, deleted. */
  let runB = '';
  /** The image open in the heatmap viewer. */
  let heatmapImage = '';

  const status = (): Locator => s.statusBarItem('cxr.status');

  /** Starts "CXR: Train Model" on a dataset of the workspace with MobileNetV2 and returns the new run folder. */
  async function startTraining(dataset: string): Promise<string> {
    return s.newRunFolder(async () => {
      await s.runCommand('CXR: Train Model');
      await s.quickPick(dataset);
      await s.quickPick('MobileNetV2');
      await s.quickInput(String(EPOCHS));
    });
  }

  async function dashboardOf(runDir: string, timeoutMs = 15_000): Promise<FrameLocator> {
    const t0 = Date.now();
    const view = await s.webviewWith(dash.epochTable, timeoutMs);
    await view.locator('#run-name').filter({ hasText: path.basename(runDir) }).waitFor();
    s.timings[`dashboard-${runDir === runA ? 'A' : 'B'}`] = Date.now() - t0;
    return view;
  }

  async function runsRow(runDir: string): Promise<Locator> {
    return s.viewRow('Runs', path.basename(runDir));
  }

  useSession({ name: 'views' }, async (started) => {
    s = started;
    await status().filter({ hasText: ENGINE }).waitFor({ timeout: 90_000 });
  });

  it('shows the engine backend and "no active model" in the status bar, and the backend status on click', async () => {
    assert.match(await status().innerText(), new RegExp(`CXR: ${STATUS_ENGINE} · no active model`));
    await status().click();
    const toast = await s.waitToast(/CXR backend:/);
    assert.match(await toast.innerText(), new RegExp(`CXR backend: ${STATUS_BACKEND} · idle · trusted`));
    await s.clearNotifications();
  });

  it('lists the classes of ci-tiny with per-split counts in the Datasets view and opens an image node in the editor', async () => {
    const dataset = await s.viewRow('Datasets', 'ci-tiny');
    if ((await dataset.getAttribute('aria-expanded')) !== 'true') await dataset.click();
    const body = await s.expandView('Datasets');
    const classRow = (name: string) =>
      body.locator('.monaco-list-row[aria-level="2"]').filter({ has: s.page.locator('.label-name', { hasText: exactly(name) }) }).first();
    for (const c of CLASSES) {
      const train = fs.readdirSync(path.join(s.dataDir, 'train', c)).length;
      const test = fs.readdirSync(path.join(s.dataDir, 'test', c)).length;
      await classRow(c).waitFor();
      assert.equal((await classRow(c).locator('.label-description').innerText()).trim(), `train ${train} · test ${test}`, c);
    }
    await classRow('Covid').click();
    const image = body.locator('.monaco-list-row[aria-level="3"]').filter({ has: s.page.locator('.label-name', { hasText: exactly('0105.png') }) }).first();
    await image.waitFor();
    assert.equal((await image.locator('.label-description').innerText()).trim(), 'test');
    await image.click();
    // VS Code's image preview shows it (see imagesLoaded for why it must finish loading before it is closed).
    await s.page.locator('.tabs-container .tab.active').filter({ hasText: '0105.png' }).waitFor();
    await imagesLoaded(await s.webviewMatching('img'), 'img');
    await s.runCommand('View: Close All Editors');
    await s.page.locator('.tabs-container .tab').first().waitFor({ state: 'detached' });
  });

  it('finds a dataset added to the workspace after "CXR: Refresh Datasets"', async () => {
    const copy = path.join(s.workspace, 'data', RELABELLED);
    fs.cpSync(s.dataDir, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'labels.csv'));
    fs.renameSync(path.join(copy, 'test', 'Covid'), path.join(copy, 'test', 'swap'));
    fs.renameSync(path.join(copy, 'test', 'Normal'), path.join(copy, 'test', 'Covid'));
    fs.renameSync(path.join(copy, 'test', 'swap'), path.join(copy, 'test', 'Normal'));
    await s.runCommand('CXR: Refresh Datasets');
    const row = await s.viewRow('Datasets', RELABELLED);
    assert.match(await row.innerText(), /folders · 18 images/);
  });

  it('cancels a first training from its progress notification, keeping the best model; the dashboard shows it', async () => {
    runA = await startTraining(RELABELLED);
    const name = path.basename(runA);
    await status().filter({ hasText: new RegExp(`· epoch \\d+/${EPOCHS}`) }).waitFor({ timeout: 120_000 });
    await waitUntil(() => fs.existsSync(path.join(runA, 'status.json')) && runStatus(runA).epochsRun >= 1, 120_000, 'an epoch completes');
    const progress = s.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: `training ${name}` }).first();
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const toast = await s.waitToast(new RegExp(`${escapeRegExp(name)}: training cancelled`), 60_000);
    assert.match(await toast.innerText(), /best model so far is kept/);
    assert.match(await toast.innerText(), /It is now the active model/);

    const saved = runStatus(runA);
    assert.equal(saved.status, 'cancelled');
    assert.ok(saved.epochsRun >= 1 && saved.epochsRun < EPOCHS, `epochs run: ${saved.epochsRun}`);
    assert.notEqual(saved.bestEpoch, null);
    assert.ok(fs.readdirSync(path.join(runA, 'model')).length > 0, 'best model kept');
    await status().filter({ hasText: new RegExp(`CXR: ${STATUS_ENGINE} · ${escapeRegExp(name)}$`) }).waitFor();

    // The first webview of a session can take a while to load (see imagesLoaded); it then replays the whole run.
    const view = await dashboardOf(runA, 90_000);
    await view.locator(`#${dash.status}`).filter({ hasText: 'cancelled' }).waitFor();
    const rows = view.locator(`#${dash.epochTable} tbody tr`);
    await waitUntil(async () => (await rows.count()) === saved.epochsRun, 10_000, `the table lists the ${saved.epochsRun} epochs run`);
    assert.equal(await numberAttr(view.locator(`#${dash.lossChart}`), 'data-epoch-points'), saved.epochsRun);
    assert.notEqual(await view.locator(`#${dash.cancel}`).getAttribute('disabled'), null, 'Cancel is disabled');
    await s.clearNotifications();
  });

  it('follows a second training live on the dashboard and in the status bar, and cancels it from the palette', async () => {
    runB = await startTraining('ci-tiny');
    const name = path.basename(runB);
    const view = await dashboardOf(runB);
    const rows = view.locator(`#${dash.epochTable} tbody tr`);
    const lossChart = view.locator(`#${dash.lossChart}`);
    const accuracyChart = view.locator(`#${dash.accuracyChart}`);
    await s.screenshot('dashboard-starting');
    await rows.first().waitFor({ timeout: 120_000 });
    await view.locator(`#${dash.status}`).filter({ hasText: 'running' }).waitFor();
    await status().filter({ hasText: new RegExp(`· epoch \\d+/${EPOCHS}`) }).waitFor();

    // The charts and the table grow while the training runs.
    const points = await numberAttr(lossChart, 'data-epoch-points');
    assert.ok(points >= 1, `loss chart plots ${points} epochs`);
    await waitUntil(async () => (await numberAttr(lossChart, 'data-epoch-points')) > points, 60_000, 'the loss chart plots another epoch');
    await waitUntil(async () => (await numberAttr(accuracyChart, 'data-epoch-points')) > points, 10_000, 'the accuracy chart plots another epoch');
    assert.ok((await rows.count()) > points, 'the epoch table grew');
    assert.ok((await numberAttr(lossChart, 'data-batch-points')) > points, 'batch samples are plotted');
    assert.equal(await view.locator(`#${dash.cancel}`).getAttribute('disabled'), null, 'Cancel is enabled while training');
    await s.screenshot('dashboard-training');

    await s.runCommand('CXR: Cancel Training');
    const toast = await s.waitToast(new RegExp(`${escapeRegExp(name)}: training cancelled`), 60_000);
    assert.doesNotMatch(await toast.innerText(), /active model/, 'the first run stays the active model');
    const saved = runStatus(runB);
    assert.equal(saved.status, 'cancelled');
    assert.ok(saved.epochsRun > points && saved.epochsRun < EPOCHS, `epochs run: ${saved.epochsRun}`);
    assert.ok(fs.readdirSync(path.join(runB, 'model')).length > 0, 'best model kept');
    await view.locator(`#${dash.status}`).filter({ hasText: 'cancelled' }).waitFor();
    await waitUntil(async () => (await rows.count()) === saved.epochsRun, 10_000, `the table lists the ${saved.epochsRun} epochs run`);
    await waitUntil(async () => (await view.locator(`#${dash.cancel}`).getAttribute('disabled')) !== null, 10_000, 'Cancel is disabled');
    await status().filter({ hasText: new RegExp(`CXR: ${STATUS_ENGINE} · ${escapeRegExp(path.basename(runA))}$`) }).waitFor();
    await s.clearNotifications();
  });

  it("resumes the cancelled run from the Runs view; the dashboard's Cancel button stops it", async () => {
    const name = path.basename(runB);
    const before = runStatus(runB).epochsRun;
    const items = await s.rightClickRow(await runsRow(runB));
    assert.ok(items.includes('Resume Training'), `context menu: ${items.join(' | ')}`);
    await s.contextMenuItem('Resume Training');

    // It continues after the checkpoint's epoch, on the same dashboard and in the status bar.
    const epochText = status().filter({ hasText: new RegExp(`· epoch \\d+/${EPOCHS}`) });
    await epochText.waitFor({ timeout: 60_000 });
    const shownEpoch = Number(/epoch (\d+)\//.exec(await epochText.innerText())?.[1]);
    assert.ok(shownEpoch > before, `status bar shows epoch ${shownEpoch} after ${before} epochs run`);
    await waitUntil(() => runStatus(runB).epochsRun > before, 60_000, 'the resumed run completes another epoch');

    const view = await dashboardOf(runB);
    await view.locator(`#${dash.status}`).filter({ hasText: 'running' }).waitFor();
    await view.locator(`#${dash.cancel}`).click();
    await s.waitToast(new RegExp(`${escapeRegExp(name)}: training cancelled`), 60_000);
    const saved = runStatus(runB);
    assert.equal(saved.status, 'cancelled');
    assert.ok(saved.epochsRun > before && saved.epochsRun < EPOCHS, `epochs run: ${before} -> ${saved.epochsRun}`);
    await view.locator(`#${dash.status}`).filter({ hasText: 'cancelled' }).waitFor();
    await s.clearNotifications();
  });

  it('describes each run in the Runs view and sets another run as the active model from its context menu', async () => {
    for (const run of [runA, runB]) {
      const description = (await (await runsRow(run)).locator('.label-description').innerText()).trim();
      const epochsRun = runStatus(run).epochsRun;
      assert.match(description, new RegExp(`^mobilenet_v2 · ${epochsRun}/${EPOCHS} ep · val \\d+\\.\\d% · cancelled${run === runA ? ' · active' : ''}$`), description);
    }
    assert.ok(!(await s.rightClickRow(await runsRow(runA))).includes('Set as Active Model'), 'the active run does not offer Set as Active Model');
    await s.page.keyboard.press('Escape');

    const items = await s.rightClickRow(await runsRow(runB));
    assert.ok(items.includes('Set as Active Model'), `context menu: ${items.join(' | ')}`);
    await s.contextMenuItem('Set as Active Model');
    await s.waitToast(`Active model: ${path.basename(runB)}`);
    await status().filter({ hasText: new RegExp(`· ${escapeRegExp(path.basename(runB))}$`) }).waitFor();
    await (await runsRow(runB)).locator('.label-description', { hasText: / · active$/ }).waitFor();
    assert.doesNotMatch(await (await runsRow(runA)).locator('.label-description').innerText(), /active/);
    await s.clearNotifications();
  });

  it('reveals a run folder in the explorer', async () => {
    await s.rightClickRow(await runsRow(runA));
    await s.contextMenuItem('Reveal Run Files');
    const revealed = s.page
      .locator('.explorer-folders-view .monaco-list-row[aria-level="2"]')
      .filter({ has: s.page.locator('.label-name', { hasText: exactly(path.basename(runA)) }) })
      .first();
    await revealed.waitFor();
    await waitUntil(async () => (await revealed.getAttribute('aria-selected')) === 'true', 10_000, 'the run folder is selected in the explorer');
  });

  it('evaluates a run from the Runs view: confusion matrix counts, the normalise toggle and misclassified thumbnails', async () => {
    const name = path.basename(runA);
    await s.rightClickRow(await runsRow(runA));
    await s.contextMenuItem('Evaluate Model');
    const view = await s.webviewWith(evalIds.confusionMatrix, 30_000);
    await view.locator('#eval-title').filter({ hasText: `${name} (test)` }).waitFor({ timeout: 120_000 });
    await view.locator(`#${evalIds.accuracy}`).filter({ hasText: /%/ }).waitFor();
    const saved = readJson<SavedEvaluation>(path.join(runA, 'evaluation', 'test', 'evaluation.json'));

    const matrix = view.locator(`#${evalIds.confusionMatrix}`);
    // The predicted-class column headers (the corner and the total column are column headers too, for screen readers).
    assert.deepEqual((await matrix.locator('thead th.cm-class[scope="col"]').allInnerTexts()).map((t) => t.trim()), saved.classes);
    const cell = (i: number, j: number) => matrix.locator(`td.cm-cell[data-row="${i}"][data-col="${j}"]`);
    assert.equal(await matrix.locator('td.cm-cell').count(), saved.classes.length ** 2);
    for (const [i, row] of saved.confusion_matrix.entries()) {
      for (const [j, count] of row.entries()) assert.equal((await cell(i, j).innerText()).trim(), String(count), `cell ${i},${j}`);
    }

    await view.locator(`#${evalIds.normalize}`).click();
    await matrix.locator('caption', { hasText: 'share of the row' }).waitFor();
    for (const [i, row] of saved.confusion_matrix.entries()) {
      const total = row.reduce((a, b) => a + b, 0);
      for (const [j, count] of row.entries()) {
        const expected = `${((total > 0 ? count / total : 0) * 100).toFixed(1)}%`;
        assert.equal((await cell(i, j).innerText()).trim(), expected, `normalised cell ${i},${j}`);
      }
    }
    await view.locator(`#${evalIds.normalize}`).click();
    await matrix.locator('caption', { hasText: 'image counts' }).waitFor();

    // The relabelled test split guarantees errors (see RELABELLED).
    const wrong = saved.predictions.filter((p) => !p.correct);
    assert.ok(wrong.length > 0, 'the relabelled test split has misclassified images');
    const thumbs = view.locator(`#${evalIds.misclassified} .thumb`);
    assert.equal(await thumbs.count(), wrong.length);
    const first = thumbs.first();
    await imagesLoaded(view, `#${evalIds.misclassified} .thumb img`);
    heatmapImage = (await first.getAttribute('data-file')) ?? '';
    assert.ok(wrong.some((p) => p.file === heatmapImage), `${heatmapImage} is misclassified`);
    await first.click();
    await s.page.locator('.tabs-container .tab.active').filter({ hasText: path.basename(heatmapImage) }).waitFor();
  });

  it('lists the class probabilities and draws the overlay in the heatmap viewer', async () => {
    assert.ok(heatmapImage, 'a misclassified image was opened');
    const view = await s.webviewWith(heat.opacity);
    const predicted = view.locator(`#${heat.predicted}`);
    await predicted.filter({ hasText: CLASS_RE }).waitFor({ timeout: 60_000 });
    await view.locator('#heatmap-meta').filter({ hasText: `model: ${path.basename(runB)}` }).waitFor();

    const rows = view.locator(`#${heat.probabilities} .prob-row`);
    assert.deepEqual((await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-class')))).sort(), [...CLASSES].sort());
    const values = (await rows.locator('.prob-value').allInnerTexts()).map((t) => parseFloat(t));
    assert.ok(Math.abs(values.reduce((a, b) => a + b, 0) - 100) < 0.5, `probabilities ${values.join(', ')} sum to 100%`);
    assert.deepEqual(values, [...values].sort((a, b) => b - a), 'sorted by probability');
    const top = (await rows.first().locator('.prob-name').innerText()).trim();
    const status = await view.locator(`#${heat.trust}`).getAttribute('data-status');
    if (status === 'refused') {
      // Unlike the training images (a tiny training set): shown as refused, with no class marked as predicted.
      assert.match(await predicted.innerText(), /^Refused: /);
      assert.equal(await rows.first().getAttribute('class'), 'prob-row');
    } else {
      assert.equal(await rows.first().getAttribute('class'), 'prob-row predicted');
      assert.match(await predicted.innerText(), new RegExp(`^(Uncertain: leaning )?${escapeRegExp(top)} \\(${values[0].toFixed(1)}%\\)$`));
    }
    const canvas = view.locator(`#${heat.canvas}`);
    await canvas.waitFor({ state: 'visible' });
    assert.ok((await numberAttr(canvas, 'width')) > 0);
  });

  it('changes the overlay with the opacity slider', async () => {
    const view = await s.webviewWith(heat.opacity);
    const stage = view.locator('#heatmap-stage');
    const canvas = view.locator(`#${heat.canvas}`);
    const before = await stage.screenshot();
    assert.equal(await canvas.evaluate((el) => el.style.opacity), '0.35');
    await view.locator(`#${heat.opacity}`).fill('0.9');
    await view.locator('#opacity-value').filter({ hasText: /^90%$/ }).waitFor();
    assert.equal(await canvas.evaluate((el) => el.style.opacity), '0.9');
    assert.ok(!before.equals(await stage.screenshot()), 'the overlay looks different at 90%');
    await view.locator(`#${heat.opacity}`).fill('0.35');
    await view.locator('#opacity-value').filter({ hasText: /^35%$/ }).waitFor();
    assert.equal(await canvas.evaluate((el) => el.style.opacity), '0.35');
  });

  it('explains another target class and switches between CAM and Grad-CAM', async () => {
    const view = await s.webviewWith(heat.target);
    const meta = view.locator('#heatmap-meta');
    const canvas = view.locator(`#${heat.canvas}`);
    const predictedText = await view.locator(`#${heat.predicted}`).innerText();
    const predicted = (await canvas.getAttribute('data-target'))!; // the predicted class's map is drawn first
    assert.ok(CLASSES.includes(predicted), predicted);
    const other = CLASSES.find((c) => c !== predicted)!;
    await meta.filter({ hasText: new RegExp(`· CAM for ${escapeRegExp(predicted)}$`) }).waitFor();
    const before = await canvas.evaluate((el) => el.toDataURL());

    await view.locator(`#${heat.target}`).click();
    await view.locator(`#${heat.target} li[role="option"]`).filter({ hasText: exactly(other) }).click();
    await meta.filter({ hasText: new RegExp(`· CAM for ${escapeRegExp(other)}$`) }).waitFor({ timeout: 60_000 });
    assert.notEqual(await canvas.evaluate((el) => el.toDataURL()), before, 'the overlay changed with the target class');
    assert.equal(await view.locator(`#${heat.predicted}`).innerText(), predictedText, 'the prediction itself is unchanged');

    await view.locator(`#${heat.method}`).click();
    await view.locator(`#${heat.method} li[role="option"]`).filter({ hasText: exactly('Grad-CAM') }).click();
    await meta.filter({ hasText: new RegExp(`· Grad-CAM for ${escapeRegExp(other)}$`) }).waitFor({ timeout: 60_000 });
    await view.locator(`#${heat.method} li[role="option"]`).first().waitFor({ state: 'hidden' });
  });

  it('deletes the active run after confirmation; the heatmap viewer then offers to pick a run', async () => {
    const name = path.basename(runB);
    const items = await s.rightClickRow(await runsRow(runB));
    assert.ok(items.includes('Delete Run'), `context menu: ${items.join(' | ')}`);
    await s.contextMenuItem('Delete Run');
    const dialog = s.page.locator('.monaco-dialog-box');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(`Delete run "${escapeRegExp(name)}"\\?`));
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await s.waitToast(`Deleted run ${name}`);
    assert.equal(fs.existsSync(runB), false, `${runB} removed`);
    // Its dashboard closes with it.
    await s.tab(`Training: ${name}`).waitFor({ state: 'detached' });
    await s.expandView('Runs').then((body) => body.locator('.monaco-list-row').filter({ hasText: name }).first().waitFor({ state: 'detached' }));
    await status().filter({ hasText: /· no active model$/ }).waitFor();

    await s.tab(path.basename(heatmapImage)).click();
    const view = await s.webviewWith(heat.noModel);
    await view.locator(`#${heat.noModel}`).waitFor({ state: 'visible' });
    await view.locator(`#${heat.predicted}`).filter({ hasText: 'No active model' }).waitFor();
    await s.screenshot('heatmap-no-model');
    await view.locator(`#${heat.pickModel}`).click();
    await s.quickPick(new RegExp(escapeRegExp(path.basename(runA))));
    await view.locator('#heatmap-meta').filter({ hasText: `model: ${path.basename(runA)}` }).waitFor({ timeout: 60_000 });
    await view.locator(`#${heat.predicted}`).filter({ hasText: CLASS_RE }).waitFor();
    await view.locator(`#${heat.noModel}`).waitFor({ state: 'hidden' });
    await status().filter({ hasText: new RegExp(`· ${escapeRegExp(path.basename(runA))}$`) }).waitFor();
    await s.clearNotifications();
  });

  it('reopens the saved evaluation from the palette', async () => {
    const name = path.basename(runA);
    const tab = s.tab(`Evaluation: ${name} (test)`);
    await tab.click({ button: 'middle' });
    await tab.waitFor({ state: 'detached' });
    await s.runCommand('CXR: Open Evaluation');
    await s.quickPick(new RegExp(escapeRegExp(name)));
    const view = await s.webviewWith(evalIds.accuracy, 45_000);
    const accuracy = view.locator(`#${evalIds.accuracy}`);
    await accuracy.filter({ hasText: /%/ }).waitFor();
    await imagesLoaded(view, `#${evalIds.misclassified} .thumb img`);
    const saved = readJson<SavedEvaluation>(path.join(runA, 'evaluation', 'test', 'evaluation.json'));
    assert.equal(await accuracy.innerText(), `${(saved.accuracy * 100).toFixed(1)}%`);
  });

  it('shows the logs', async () => {
    await s.runCommand('CXR: Show Logs');
    const panel = s.page.locator('.part.panel');
    await panel.locator('.view-lines').filter({ hasText: /Evaluated|Training|Classified|Active/ }).first().waitFor();
    await s.runCommand('View: Hide Panel');
    await panel.waitFor({ state: 'hidden' });
  });
});

/**
 * The workbench bugs of issue 8, each through the real UI of the packaged extension in code-server:
 * a fresh install trains from the ImageNet weights shipped in the .vsix (no setting, no shared folder); Export PNG
 * defaults to the run folder (not the dataset); the heatmap tab is told apart from the image preview; the dashboard and
 * the evaluation come back after a window reload; the Datasets tree
 * follows file changes by itself and does not list a CSV that only describes a folder dataset as a second dataset;
 * a run cancelled before any epoch finished says so and can be neither the active model nor evaluated.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { COVID19, requireShared } from '../helpers/shared';
import { CodeServerSession, escapeRegExp, REPO_ROOT, useSession, waitUntil, STATUS_ENGINE } from './harness';

const EPOCHS = 1000;
const ENGINE = new RegExp(`\\b${STATUS_ENGINE}`);

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

describe('CXR Studio workbench bugs, fixed, in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  /** A shared folder with nothing in it: the extension must find its weights inside itself. */
  const emptyShared = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-empty-shared-'));
  let trained = '';

  const status = () => s.statusBarItem('cxr.status');

  /** The session's own feature cache: the frozen layers really run over every image (no hits from other tests). */
  const featureCache = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-workbench-cache-'));
  /** A copy of the covid19-dataset (251 training images): its feature pass takes seconds, so a cancel sent as the run
   * starts lands long before the first epoch can finish. */
  const LARGE = 'covid19-dataset';

  useSession({ name: 'workbench', settings: { 'cxr.modelsDirectory': '' }, env: { CXR_SHARED_DIR: emptyShared, CXR_MODELS_DIR: '', CXR_CACHE_DIR: featureCache } }, async (started) => {
    s = started;
    fs.cpSync(requireShared(COVID19), path.join(s.workspace, 'data', LARGE), { recursive: true });
    await status().filter({ hasText: ENGINE }).waitFor({ timeout: 90_000 });
  });

  /** "CXR: Train Model" on `dataset` with MobileNetV2; returns once the training request is sent. */
  async function beginTraining(dataset: string): Promise<void> {
    await s.runCommand('CXR: Train Model');
    // Typed and accepted with Enter: a click on a quick pick row right after the previous one closed can miss it.
    await s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').first().waitFor();
    await s.quickInput(dataset);
    await s.page.locator('.quick-input-widget .quick-input-title').filter({ hasText: /backbone/ }).waitFor();
    await s.quickInput('MobileNetV2');
    await s.page.locator('.quick-input-widget .quick-input-title').filter({ hasText: /epochs/ }).waitFor();
    await s.quickInput(String(EPOCHS));
  }

  async function startTraining(dataset = 'ci-tiny'): Promise<string> {
    return s.newRunFolder(() => beginTraining(dataset));
  }

  it('a fresh install trains from the ImageNet weights inside the .vsix, with no setting touched', async () => {
    assert.doesNotMatch(await status().innerText(), /no mobilenet_v2 weights/);
    trained = await startTraining();
    const name = path.basename(trained);
    await waitUntil(() => fs.existsSync(path.join(trained, 'status.json')) && readJson<{ epochsRun: number }>(path.join(trained, 'status.json')).epochsRun >= 1, 180_000, 'an epoch completes');
    const config = readJson<{ pretrained: boolean; weights: string | null }>(path.join(trained, 'config.json'));
    assert.equal(config.pretrained, true, 'trained from random weights');
    assert.match(config.weights ?? '', /[/\\]dist[/\\]models[/\\]mobilenet_v2_imagenet[/\\]/);
    assert.ok(!config.weights!.startsWith(emptyShared) && !config.weights!.startsWith(REPO_ROOT), `weights from ${config.weights}`);
    const progress = s.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: `training ${name}` }).first();
    await progress.getByRole('button', { name: 'Cancel' }).click();
    const toast = await s.waitToast(new RegExp(`${escapeRegExp(name)}: training cancelled`), 60_000);
    assert.match(await toast.innerText(), /best model so far is kept.*It is now the active model/s);
    await s.clearNotifications();
  });

  it('titles the heatmap tab apart from the image preview, and exports into the run folder, not the dataset', async () => {
    const image = path.join(s.dataDir, 'test', 'Covid', '0102.jpeg');
    const testImagesBefore = fs.readdirSync(path.dirname(image)).length;
    const items = await s.rightClickExplorer('data/ci-tiny/test/Covid/0102.jpeg');
    assert.ok(items.includes('Show Heatmap'), items.join(' | '));
    await s.contextMenuItem('Show Heatmap');
    await s.tab('Heatmap: 0102.jpeg').waitFor();
    const view = await s.webviewWith(WebviewIds.heatmap.exportPng, 60_000);
    await view.locator(`#${WebviewIds.heatmap.predicted}`).filter({ hasText: /\(|^Refused: / }).waitFor({ timeout: 90_000 });
    await view.locator(`#${WebviewIds.heatmap.exportPng}`).click();
    const proposed = await s.saveDialogProposal('.png');
    // The default place is the model's run folder, never the dataset: take it as proposed.
    assert.ok(proposed.startsWith(path.join(trained, 'exports') + path.sep), `proposed ${proposed}`);
    const expected = proposed;
    await s.saveDialogInput().press('Enter');
    await waitUntil(() => fs.existsSync(expected), 60_000, 'the export is written');
    await s.waitToast(/Saved heatmap overlay/);
    assert.equal(fs.readdirSync(path.dirname(image)).length, testImagesBefore, 'the test split gained a file');
    await s.clearNotifications();
    await s.runCommand('View: Close All Editors');
  });

  it('brings the dashboard and the evaluation back after a window reload, with their state', async () => {
    const name = path.basename(trained);
    const epochsRun = readJson<{ epochsRun: number }>(path.join(trained, 'status.json')).epochsRun;
    await s.runCommand('CXR: Evaluate Model');
    await s.quickPick(new RegExp(escapeRegExp(name)));
    await s.quickPick('test');
    const evaluation = await s.webviewWith(WebviewIds.evaluation.accuracy, 120_000);
    const accuracy = (await evaluation.locator(`#${WebviewIds.evaluation.accuracy}`).innerText()).trim();
    await s.runCommandAndPick('CXR: Open Training Dashboard', new RegExp(escapeRegExp(name)));
    const dashboard = await s.webviewWith(WebviewIds.dashboard.epochTable, 60_000);
    await dashboard.locator('#run-name').filter({ hasText: name }).waitFor();
    const batchPoints = Number(await dashboard.locator(`#${WebviewIds.dashboard.lossChart}`).getAttribute('data-batch-points'));
    assert.ok(batchPoints > 0, 'the live dashboard has a per-batch curve');

    await s.runCommand('Developer: Reload Window');
    await s.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await s.tab(`Training: ${name}`).waitFor({ timeout: 90_000 });
    await s.tab(`Evaluation: ${name} (test)`).waitFor({ timeout: 90_000 });
    await s.tab(`Training: ${name}`).click();
    const restored = await s.webviewWith(WebviewIds.dashboard.epochTable, 90_000);
    await restored.locator('#run-name').filter({ hasText: name }).waitFor({ timeout: 60_000 });
    const rows = restored.locator(`#${WebviewIds.dashboard.epochTable} tbody tr`);
    await waitUntil(async () => (await rows.count()) === epochsRun, 30_000, `the restored table lists the ${epochsRun} epochs`);
    assert.equal(Number(await restored.locator(`#${WebviewIds.dashboard.lossChart}`).getAttribute('data-batch-points')), batchPoints, 'per-batch curve restored');
    await s.tab(`Evaluation: ${name} (test)`).click();
    const evalRestored = await s.webviewWith(WebviewIds.evaluation.accuracy, 90_000);
    await evalRestored.locator(`#${WebviewIds.evaluation.accuracy}`).filter({ hasText: accuracy }).waitFor({ timeout: 60_000 });
    await s.screenshot('restored-after-reload');
    await s.runCommand('View: Close All Editors');
  });

  it('refreshes the Datasets tree by itself when a dataset appears, and lists its labels.csv as no second dataset', async () => {
    await s.viewRow('Datasets', 'ci-tiny');
    // Right after the window reload above, the workspace's file watcher may still be starting: once in CI the copy
    // below raised no event and the tree stayed as it was. The Explorer listing a new file shows the watcher runs.
    const probe = path.join(s.workspace, 'watcher-ready.txt');
    fs.writeFileSync(probe, '');
    await s.showExplorer();
    await s.page.locator('.explorer-folders-view .monaco-list-row .label-name', { hasText: /^watcher-ready\.txt$/ }).waitFor({ timeout: 60_000 });
    fs.rmSync(probe);
    const copy = path.join(s.workspace, 'data', 'ci-copy');
    fs.cpSync(s.dataDir, copy, { recursive: true });
    const row = await s.viewRow('Datasets', 'ci-copy');
    assert.match(await row.innerText(), /folders · 18 images/);
    const body = await s.expandView('Datasets');
    const labels = await body.locator('.monaco-list-row[aria-level="1"] .label-name').allInnerTexts();
    assert.ok(!labels.some((l) => /labels\.csv/.test(l)), `datasets: ${labels.join(' | ')}`);
    await s.screenshot('datasets-after-copy');
  });

  it('says a run cancelled before any epoch finished has no model, and offers it neither as active model nor for evaluation', async () => {
    await s.runCommand('View: Close All Editors');
    const activeBefore = await status().innerText();
    assert.match(activeBefore, new RegExp(`· ${escapeRegExp(path.basename(trained))}$`), 'the first test left its run active');
    await beginTraining(LARGE);
    // Cancelled from the progress notification as soon as it shows: the backend first audits the 317 images (seconds
    // here), then runs the frozen layers over the 251 training images; the cancel is checked all along the way.
    const progress = s.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: `CXR: training ${LARGE}-` }).first();
    await progress.waitFor();
    const name = new RegExp(`training (${escapeRegExp(LARGE)}-[\\w.-]+)`).exec(await progress.innerText())?.[1];
    await progress.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(name, 'the progress notification names the run');
    const run = path.join(s.runsDir, name);
    const toast = await s.waitToast(new RegExp(`${escapeRegExp(name)}: training cancelled`), 120_000);
    const text = await toast.innerText();
    const saved = readJson<{ status: string; epochsRun: number; bestEpoch: number | null }>(path.join(run, 'status.json'));
    assert.deepEqual([saved.status, saved.epochsRun, saved.bestEpoch], ['cancelled', 0, null], 'the cancel came after an epoch finished: the test proves nothing');
    assert.match(text, /training cancelled before any epoch finished \(there is no model\) after 0 epochs/);
    assert.doesNotMatch(text, /best model/);
    assert.doesNotMatch(text, /active model/);
    const buttons = (await toast.locator('.monaco-button').allInnerTexts()).map((b) => b.trim());
    assert.ok(buttons.includes('Resume Training'), buttons.join(' | '));
    assert.ok(!buttons.includes('Evaluate') && !buttons.includes('Set as Active Model'), buttons.join(' | '));
    await s.clearNotifications();
    assert.equal(await status().innerText(), activeBefore, 'the active model changed');

    // The Runs view: the run with a model offers evaluation (it is already the active model), the run without one
    // offers neither.
    const withModel = await s.rightClickRow(await s.viewRow('Runs', path.basename(trained)));
    assert.ok(withModel.includes('Evaluate Model'), withModel.join(' | '));
    await s.page.keyboard.press('Escape');
    const withoutModel = await s.rightClickRow(await s.viewRow('Runs', name));
    assert.ok(withoutModel.includes('Resume Training'), withoutModel.join(' | '));
    assert.ok(!withoutModel.includes('Set as Active Model') && !withoutModel.includes('Evaluate Model'), withoutModel.join(' | '));
    await s.page.keyboard.press('Escape');

    // The palette's run pickers list the run with a model only.
    for (const command of ['CXR: Set as Active Model', 'CXR: Evaluate Model']) {
      await s.runCommand(command);
      const rows = s.page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name');
      await rows.filter({ hasText: path.basename(trained) }).first().waitFor();
      const offered = (await rows.allInnerTexts()).map((r) => r.trim());
      assert.ok(!offered.some((r) => r.includes(name)), `${command} offers ${offered.join(' | ')}`);
      await s.page.keyboard.press('Escape');
    }
  });
});

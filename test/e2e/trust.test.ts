/**
 * Workspace trust left on (VS Code's default). In an untrusted workspace (Restricted Mode) training is refused with a
 * clear message and no run folder is written, while classifying, evaluating and the heatmap viewer work with an
 * existing run; once the user trusts the folder mid-session, training works without a reload.
 * The workspace's own settings file names a data root outside it: in Restricted Mode that setting is ignored (the
 * folder is not listed and the backend refuses an image there), so the error's "Add Folder to Data Roots" writes the
 * user's setting; once trusted, the workspace's data root is honoured.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { buildEvidenceRun, writeEvidenceImage } from '../helpers/knownEvidence';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, requireShared } from '../helpers/shared';
import { CodeServerSession, escapeRegExp, useSession, waitUntil } from './harness';

const CLASSES = /(Covid|Normal|Viral Pneumonia)/;
const IMAGE = 'data/ci-tiny/test/Covid/0105.png';
const scratch = scratchDirFactory();
const outside = scratch('e2e-trust');
/** A run trained before the session (a real run folder on ci-tiny), in the runs folder (outside the workspace). */
const existingRuns = path.join(outside, 'runs');
const existingRun = path.join(existingRuns, 'existing');
/** Named as a data root by the workspace's .vscode/settings.json only; holds a copy of ci-tiny. */
const workspaceOnlyRoot = path.join(outside, 'workspace-only-root');
const WORKSPACE_ONLY_DATASET = 'elsewhere-tiny';
const workspaceOnlyImage = path.join(workspaceOnlyRoot, WORKSPACE_ONLY_DATASET, 'test', 'Covid', '0105.png');

describe('CXR Studio in an untrusted workspace', { timeout: 600_000 }, () => {
  let s: CodeServerSession;

  before(async () => {
    fs.cpSync(requireShared(CI_TINY), path.join(workspaceOnlyRoot, WORKSPACE_ONLY_DATASET), { recursive: true });
    fs.mkdirSync(existingRuns, { recursive: true });
    const image = path.join(outside, 'evidence.png');
    await writeEvidenceImage(image);
    await buildEvidenceRun(existingRun, image);
  });

  useSession(
    {
      name: 'trust',
      workspaceTrust: true,
      // The run's own dataset (shared ci-tiny) must be readable for "Evaluate Model".
      settings: { 'cxr.dataRoots': [path.dirname(CI_TINY)], 'cxr.runsDirectory': existingRuns, 'cxr.activeModel': existingRun },
      // What an untrusted repository could ship to widen what the backend reads.
      workspaceSettings: { 'cxr.dataRoots': [workspaceOnlyRoot] },
    },
    (started) => {
      s = started;
    },
  );

  it('refuses "CXR: Train Model" in Restricted Mode with a clear message', async () => {
    // The workbench asks whether to trust the folder's authors; decline.
    const dialog = s.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByRole('button', { name: /No, I don.t trust/ }).click();
    await dialog.waitFor({ state: 'detached' });
    await s.page.locator('.statusbar-item').filter({ hasText: 'Restricted Mode' }).first().waitFor();

    await s.statusBarItem('cxr.status').filter({ hasText: new RegExp(`· ${escapeRegExp(path.basename(existingRun))}$`) }).waitFor({ timeout: 90_000 });
    await s.runCommand('CXR: Train Model');
    const toast = await s.waitToast(/Restricted Mode/);
    assert.match(await toast.innerText(), /training is disabled/i);
    assert.deepEqual(fs.readdirSync(existingRuns), ['existing'], 'no run folder written');
    await s.clearNotifications();
  });

  /** "CXR: Classify Image" from the palette on a file picked in the open dialog (code-server's is a quick input). */
  async function classifyPicked(file: string): Promise<void> {
    await s.runCommand('View: Close All Editors'); // with an image editor active, the command would classify that
    await s.runCommand('CXR: Classify Image');
    await s.pickInOpenDialog(file);
  }

  /** The allowed roots the backend reports in its status (the details go to the log). */
  async function backendAllowedRoots(): Promise<string[]> {
    const logged = s.extensionLog().length;
    await s.runCommand('CXR: Show Backend Status');
    await s.waitToast(/CXR backend:/, 30_000);
    const line = await waitUntil(() => s.extensionLog().slice(logged).split('\n').find((l) => l.includes('Allowed roots: ')), 10_000, 'the backend status details are logged');
    await s.clearNotifications();
    return line.slice(line.indexOf('Allowed roots: ') + 'Allowed roots: '.length).split(', ').map((r) => r.trim());
  }

  it("ignores the workspace's cxr.dataRoots in Restricted Mode: not listed, and the backend refuses an image there", async () => {
    const roots = await backendAllowedRoots();
    assert.ok(roots.includes(s.workspace), `the workspace is not an allowed root: ${roots.join(', ')}`);
    assert.ok(!roots.includes(workspaceOnlyRoot), `the backend allows the workspace's data root: ${roots.join(', ')}`);
    await s.openContainer('CXR Studio');
    const datasets = await s.expandView('Datasets');
    await datasets.locator('.monaco-list-row[aria-level="1"] .label-name').filter({ hasText: /^ci-tiny$/ }).first().waitFor({ timeout: 30_000 });
    const listed = await datasets.locator('.monaco-list-row[aria-level="1"] .label-name').allInnerTexts();
    assert.ok(!listed.includes(WORKSPACE_ONLY_DATASET), `listed: ${listed.join(' | ')}`);
    // The workspace's copy of ci-tiny and the data root's own are two datasets of one name: each row says where it lies.
    const ciTinyRows = datasets.locator('.monaco-list-row[aria-level="1"]').filter({ has: s.page.locator('.label-name', { hasText: /^ci-tiny$/ }) });
    await waitUntil(async () => (await ciTinyRows.count()) === 2, 10_000, 'both ci-tiny datasets are listed');
    const places = (await ciTinyRows.locator('.label-description').allInnerTexts()).map((t) => t.trim());
    assert.equal(new Set(places).size, 2, `the two ci-tiny rows read alike: ${places.join(' | ')}`);
    assert.ok(places.every((p) => /^folders · 18 images · in \S+\/data$/.test(p)), places.join(' | '));

    await classifyPicked(workspaceOnlyImage);
    const toast = await s.waitToast(/Classification failed/, 60_000);
    assert.match(await toast.innerText(), /cannot be used\. It is outside the folders CXR Studio may access/);
    await s.clearNotifications();
  });

  it('"Add Folder to Data Roots" in Restricted Mode writes the user setting (the workspace one is ignored there), and the image then classifies', async () => {
    const folder = path.dirname(workspaceOnlyImage);
    const workspaceSettings = fs.readFileSync(path.join(s.workspace, '.vscode', 'settings.json'), 'utf8');
    await classifyPicked(workspaceOnlyImage);
    const refused = await s.waitToast(/Classification failed/, 60_000);
    await refused.getByRole('button', { name: 'Add Folder to Data Roots' }).click();
    await s.waitToast(`Added ${folder} to cxr.dataRoots. Try again.`);
    const userRoots = await waitUntil(() => {
      const roots = (JSON.parse(fs.readFileSync(s.userSettingsFile, 'utf8')) as Record<string, unknown>)['cxr.dataRoots'];
      return Array.isArray(roots) && roots.includes(folder) ? roots : undefined;
    }, 15_000, `${folder} is in the user's cxr.dataRoots`);
    assert.deepEqual(userRoots, [path.dirname(CI_TINY), folder], 'the user value keeps its roots and gains the folder');
    assert.equal(fs.readFileSync(path.join(s.workspace, '.vscode', 'settings.json'), 'utf8'), workspaceSettings, 'the workspace settings file is untouched');
    await s.clearNotifications();
    await waitUntil(async () => (await backendAllowedRoots()).includes(folder), 15_000, 'the backend allows the added folder');
    await classifyPicked(workspaceOnlyImage);
    const toast = await s.waitToast(/not a diagnosis/, 60_000);
    assert.match(await toast.innerText(), new RegExp(`${CLASSES.source} \\(\\d+\\.\\d%\\)`));
    await s.clearNotifications();
  });

  it('classifies an image with the active model in Restricted Mode', async () => {
    await s.rightClickExplorer(IMAGE);
    await s.contextMenuItem('Classify Image');
    const toast = await s.waitToast(/not a diagnosis/, 60_000);
    assert.match(await toast.innerText(), new RegExp(`${CLASSES.source} \\(\\d+\\.\\d%\\)`));
    await s.clearNotifications();
  });

  it('evaluates the existing run in Restricted Mode', async () => {
    await s.page.mouse.move(1, 1); // a hover left by the explorer would cover the quick pick
    await s.runCommand('CXR: Evaluate Model');
    await s.quickPick(new RegExp(escapeRegExp(path.basename(existingRun))));
    await s.quickPick('test');
    const view = await s.webviewWith(WebviewIds.evaluation.accuracy, 60_000);
    await view.locator(`#${WebviewIds.evaluation.accuracy}`).filter({ hasText: /\d+(\.\d+)?%/ }).waitFor({ timeout: 120_000 });
    const saved = JSON.parse(fs.readFileSync(path.join(existingRun, 'evaluation', 'test', 'evaluation.json'), 'utf8')) as { n: number };
    assert.equal(saved.n, 6);
  });

  it('shows the heatmap in Restricted Mode', async () => {
    await s.rightClickExplorer(IMAGE);
    await s.contextMenuItem('Show Heatmap');
    const view = await s.webviewWith(WebviewIds.heatmap.canvas, 30_000);
    await view.locator(`#${WebviewIds.heatmap.predicted}`).filter({ hasText: new RegExp(`${CLASSES.source}|^Refused: `) }).waitFor({ timeout: 60_000 });
    await view.locator(`#${WebviewIds.heatmap.canvas}`).waitFor({ state: 'visible' });
    await s.runCommand('View: Close All Editors');
  });

  it('trains once the folder is trusted mid-session, without a reload', async () => {
    await s.runCommand('Workspaces: Manage Workspace Trust');
    const trustButton = s.page.locator('.workspace-trust-editor').getByRole('button', { name: /^Trust$/ }).first();
    await trustButton.click();
    await s.page.locator('.statusbar-item').filter({ hasText: 'Restricted Mode' }).first().waitFor({ state: 'detached' });
    await s.runCommand('View: Close All Editors');

    await s.runCommand('CXR: Train Model');
    await s.quickPick('ci-tiny');
    await s.quickPick('MobileNetV2');
    await s.quickInput('1');
    const toast = await s.waitToast(/training completed/, 300_000);
    assert.match(await toast.innerText(), /after 1 epochs?/);
    const runs = fs.readdirSync(existingRuns).filter((r) => r !== 'existing');
    assert.equal(runs.length, 1, runs.join(', '));
    const status = JSON.parse(fs.readFileSync(path.join(existingRuns, runs[0], 'status.json'), 'utf8')) as { status: string; epochsRun: number };
    assert.deepEqual([status.status, status.epochsRun], ['completed', 1]);
  });

  it("honours the workspace's cxr.dataRoots once trusted: the folder is listed and its image classifies", async () => {
    assert.ok((await backendAllowedRoots()).includes(workspaceOnlyRoot), 'the trusted workspace data root is not allowed');
    await s.viewRow('Datasets', WORKSPACE_ONLY_DATASET);
    await classifyPicked(workspaceOnlyImage);
    const toast = await s.waitToast(/not a diagnosis/, 60_000);
    assert.match(await toast.innerText(), new RegExp(`${CLASSES.source} \\(\\d+\\.\\d%\\)`));
    await s.clearNotifications();
  });
});

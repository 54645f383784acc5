/**
 * The extension around its backend process, in code-server: the heatmap viewer's Export PNG on an image whose
 * evidence is known (the red must land on it); the backend killed (the client restarts it and tells the user, the
 * active model and runs survive); `cxr.engineBackend` changed in the Settings editor and `cxr.modelsDirectory` in the
 * workspace settings file (each restarts the backend with the new value, the active model and runs survive).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { WebviewIds } from '../../common/src/webviewProtocol';
import { BACKEND_NAMES } from '../../server/src/engine/names';
import {
  buildEvidenceRun, EVIDENCE_IMAGE_SIZE, EVIDENCE_PATCH, EVIDENCE_TARGET, growBox, hotCentroid, inBox, writeEvidenceImage,
} from '../helpers/knownEvidence';
import { scratchDirFactory } from '../helpers/scratch';
import { MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import { CodeServerSession, escapeRegExp, useSession, waitUntil, STATUS_ENGINE, STATUS_BACKEND } from './harness';

const heat = WebviewIds.heatmap;
const ENGINE = new RegExp(`CXR: ${STATUS_ENGINE} · `);
const scratch = scratchDirFactory();
const outside = scratch('e2e-lifecycle');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'known-evidence');
const evidenceImage = path.join(outside, 'evidence.png');
/** A second models folder holding a copy of the MobileNetV2 no-top weights: the backend must find them there. */
const otherModels = path.join(outside, 'other-models');

/** The backend processes (dist/server.js) of this session's extension, by their command line. */
function backendPids(s: CodeServerSession): number[] {
  const marker = path.join(s.stateDir, 'ext');
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    if (cmdline.includes(marker) && cmdline.includes(`dist${path.sep}server.js`)) pids.push(Number(entry));
  }
  return pids;
}

describe('CXR Studio heatmap export and backend restart in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  const status = () => s.statusBarItem('cxr.status');

  before(async () => {
    const notop = path.dirname(requireShared(MOBILENET_NOTOP_MANIFEST));
    fs.cpSync(notop, path.join(otherModels, path.relative(path.dirname(path.dirname(notop)), notop)), { recursive: true });
    fs.mkdirSync(runsDir, { recursive: true });
    await writeEvidenceImage(evidenceImage);
    await buildEvidenceRun(run, evidenceImage);
  });

  useSession({ name: 'lifecycle', settings: { 'cxr.runsDirectory': runsDir, 'cxr.activeModel': run } }, async (started) => {
    s = started;
    fs.copyFileSync(evidenceImage, path.join(s.workspace, 'evidence.png'));
    await status().filter({ hasText: new RegExp(`${ENGINE.source}${escapeRegExp(path.basename(run))}$`) }).waitFor({ timeout: 90_000 });
  });

  it('exports the heatmap overlay as PNG, red on the evidence the model was built to use', async () => {
    await s.rightClickExplorer('evidence.png');
    await s.contextMenuItem('Show Heatmap');
    const view = await s.webviewWith(heat.exportPng);
    // The synthetic image is unlike the training images, so the viewer shows it as refused; its map is still drawn.
    await view.locator(`#${heat.canvas}[data-target="${EVIDENCE_TARGET}"]`).waitFor({ timeout: 60_000 });
    await view.locator(`#${heat.canvas}`).waitFor({ state: 'visible' });
    await view.locator(`#${heat.exportPng}`).click();
    // The save dialog proposes the run's exports folder. Take it.
    const exported = await s.saveDialogProposal('.png');
    assert.ok(exported.startsWith(path.join(run, 'exports') + path.sep), `proposed ${exported}`);
    await s.saveDialogInput().press('Enter');
    await s.waitToast(/Saved heatmap overlay to/, 30_000);
    await view.locator('#export-status').filter({ hasText: `Saved ${exported}` }).waitFor();

    const hot = await hotCentroid(exported);
    // At the image's own size (320 px), not the model's input size (160 px).
    assert.deepEqual([hot.width, hot.height], [EVIDENCE_IMAGE_SIZE, EVIDENCE_IMAGE_SIZE], 'exported at the image\'s own size');
    // As in test/engine/explain-region.test.ts: within a cell (64 px) of the patch, never in another corner.
    const scale = EVIDENCE_IMAGE_SIZE / hot.width;
    const inside = hot.hot.filter((p) => inBox(growBox(EVIDENCE_PATCH, 64), p.y * scale, p.x * scale)).length / hot.hot.length;
    const where = `red centroid at ${(hot.x * scale).toFixed(0)},${(hot.y * scale).toFixed(0)} px, ${(inside * 100).toFixed(0)}% of the reddest pixels within a cell of the patch ${JSON.stringify(EVIDENCE_PATCH)}`;
    assert.ok(inBox(growBox(EVIDENCE_PATCH, 40), hot.y * scale, hot.x * scale), where);
    assert.ok(inside > 0.75, where);
    await s.clearNotifications();
  });

  it('restarts a backend that died, tells the user, and keeps the active model and runs', async () => {
    const [pid] = await waitUntil(() => backendPids(s).length === 1 && backendPids(s), 10_000, 'one backend process runs');
    process.kill(pid, 'SIGKILL');
    const toast = await s.waitToast(/backend process stopped unexpectedly/, 30_000);
    assert.match(await toast.innerText(), /being restarted/);
    const [next] = await waitUntil(() => {
      const pids = backendPids(s);
      return pids.length === 1 && pids[0] !== pid && pids;
    }, 60_000, 'a new backend process runs');
    assert.notEqual(next, pid);
    await status().filter({ hasText: new RegExp(`${ENGINE.source}${escapeRegExp(path.basename(run))}$`) }).waitFor({ timeout: 60_000 });
    await s.clearNotifications();
    // The new process answers: the backend status and the Runs view come from it.
    await s.runCommand('CXR: Show Backend Status');
    await s.waitToast(new RegExp(`CXR backend: ${STATUS_BACKEND} · idle`), 30_000);
    await s.viewRow('Runs', path.basename(run));
    await s.clearNotifications();
  });

  /** Waits until a backend process other than `old` runs alone, then for the status bar to show `engine` (a pattern)
   * and the active model. */
  async function restartedBackend(old: number, engine: string): Promise<number> {
    const [next] = await waitUntil(() => {
      const pids = backendPids(s);
      return pids.length === 1 && pids[0] !== old && pids;
    }, 60_000, 'a new backend process replaces the old one');
    await status().filter({ hasText: new RegExp(`CXR: ${engine}(?: \\((?:CPU|GPU)\\))? · ${escapeRegExp(path.basename(run))}$`) }).waitFor({ timeout: 60_000 });
    return next;
  }

  /** State kept across a restart: the Runs view lists the run, no crash was reported, the active model is unchanged. */
  async function assertStateKept(): Promise<void> {
    await s.viewRow('Runs', path.basename(run));
    assert.equal(await s.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: /stopped unexpectedly/ }).count(), 0, 'a settings restart was reported as a crash');
  }

  it('restarts the backend on the engine backend chosen in the Settings editor, keeping the active model and runs', async () => {
    const [pid] = await waitUntil(() => backendPids(s).length === 1 && backendPids(s), 10_000, 'one backend process runs');
    const before = await status().innerText();
    assert.doesNotMatch(before, /CXR: cpu /, 'the test needs an engine other than cpu to start with');
    // code-server does not notice an outside edit of the user settings file: change it as a user does.
    await s.runCommand('Preferences: Open User Settings');
    await s.page.locator('.settings-editor .settings-header textarea').first().fill('cxr.engineBackend');
    const select = s.page.locator('.settings-editor select[aria-label="cxr.engineBackend"]');
    await select.waitFor();
    await select.selectOption('cpu');
    await restartedBackend(pid, 'cpu');
    const userSettings = JSON.parse(fs.readFileSync(path.join(s.stateDir, 'data', 'User', 'settings.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(userSettings['cxr.engineBackend'], 'cpu');
    await s.runCommand('View: Close All Editors');
    await s.runCommand('CXR: Show Backend Status');
    await s.waitToast(/CXR backend: cpu on [^·]+ · idle/, 30_000);
    await assertStateKept();
    await s.clearNotifications();
  });

  it('restarts the backend on a models folder set in the workspace settings file, and finds the weights there', async () => {
    const [pid] = await waitUntil(() => backendPids(s).length === 1 && backendPids(s), 10_000, 'one backend process runs');
    s.writeWorkspaceSettings({ 'cxr.modelsDirectory': otherModels });
    const next = await restartedBackend(pid, `(?:${BACKEND_NAMES.join('|')})`);
    const env = fs.readFileSync(`/proc/${next}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`CXR_MODELS_DIR=${otherModels}`), 'the new backend process was not given the new models folder');
    // The backend status, with its details in the log, names the weight file it would train from.
    const logged = s.extensionLog().length;
    await s.runCommand('CXR: Show Backend Status');
    await s.waitToast(new RegExp(`CXR backend: ${STATUS_BACKEND} · idle`), 30_000);
    const details = await waitUntil(() => {
      const line = s.extensionLog().slice(logged).split('\n').find((l) => l.includes('ImageNet weights for mobilenet_v2:'));
      return line;
    }, 10_000, 'the backend status details are logged');
    assert.ok(details.includes(`ImageNet weights for mobilenet_v2: ${otherModels}${path.sep}`), details);
    await assertStateKept();
    await s.clearNotifications();
  });
});

/**
 * The extension around its backend process, in code-server: the heatmap viewer's Export PNG on an image whose
 * evidence is known (the red must land on it), and the backend killed (the client restarts it and tells the user, the
 * active model and runs survive).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { WebviewIds } from '../../common/src/webviewProtocol';
import {
  buildEvidenceRun, EVIDENCE_IMAGE_SIZE, EVIDENCE_PATCH, EVIDENCE_TARGET, growBox, hotCentroid, inBox, writeEvidenceImage,
} from '../helpers/knownEvidence';
import { scratchDirFactory } from '../helpers/scratch';
import { CodeServerSession, escapeRegExp, useSession, STATUS_ENGINE, STATUS_BACKEND } from './harness';

const heat = WebviewIds.heatmap;
const ENGINE = new RegExp(`CXR: ${STATUS_ENGINE} · `);
const scratch = scratchDirFactory();
const outside = scratch('e2e-lifecycle');
const runsDir = path.join(outside, 'runs');
const run = path.join(runsDir, 'known-evidence');
const evidenceImage = path.join(outside, 'evidence.png');

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

async function waitUntil<T>(probe: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('CXR Studio heatmap export and backend restart in code-server', { timeout: 600_000 }, () => {
  let s: CodeServerSession;
  const status = () => s.statusBarItem('cxr.status');

  before(async () => {
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
    await view.locator(`#${heat.predicted}`).filter({ hasText: new RegExp(`^${EVIDENCE_TARGET} \\(`) }).waitFor({ timeout: 60_000 });
    await view.locator(`#${heat.canvas}`).waitFor({ state: 'visible' });
    await view.locator(`#${heat.exportPng}`).click();
    // code-server's save dialog is a quick input holding the proposed path: the run's exports folder. Take it.
    const input = s.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    let exported = await input.inputValue();
    for (let i = 0; i < 100 && !exported.endsWith('.png'); i++) {
      await s.page.waitForTimeout(100); // the dialog fills in its proposal after it shows
      exported = await input.inputValue();
    }
    assert.ok(exported.startsWith(path.join(run, 'exports') + path.sep), `proposed ${exported}`);
    await input.press('Enter');
    await s.waitToast(/Saved heatmap overlay to/, 30_000);
    await view.locator('#export-status').filter({ hasText: `Saved ${exported}` }).waitFor();

    const hot = await hotCentroid(exported);
    assert.equal(hot.width, hot.height, 'a square image exports square');
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
});

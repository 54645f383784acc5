/**
 * Smoke test of the packaged extension in code-server: it activates, contributes its container and views, shows its
 * status bar item with the engine backend, and its commands reach the palette.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CodeServerSession, useSession, STATUS_ENGINE } from './harness';

describe('CXR Studio in code-server (smoke)', { timeout: 240_000 }, () => {
  let s: CodeServerSession;

  useSession({ name: 'smoke' }, (started) => {
    s = started;
  });

  it('activates and shows the cxr.status item naming the engine backend', async () => {
    const item = s.statusBarItem('cxr.status');
    const t0 = Date.now();
    await item.waitFor({ timeout: 60_000 });
    // The backend name appears once the backend process has initialised its engine.
    await assert.doesNotReject(
      item.filter({ hasText: new RegExp(`\\b${STATUS_ENGINE}`) }).waitFor({ timeout: 90_000 }),
      `status bar item text stayed "${await item.innerText()}"`,
    );
    s.timings['status-with-backend'] = Date.now() - t0;
    assert.match(await item.innerText(), new RegExp(`\\b${STATUS_ENGINE}`));
  });

  it('contributes the CXR Studio container with its Datasets (listing ci-tiny) and Runs views', async () => {
    await s.openContainer('CXR Studio');
    const datasets = await s.expandView('Datasets');
    const runs = await s.expandView('Runs');
    assert.ok(await runs.isVisible(), 'Runs view body visible');
    // The Datasets view is filled by the backend's dataset scan of the workspace (its copy of ci-tiny, 18 images).
    const ciTiny = datasets.locator('.monaco-list-row').filter({ has: s.page.locator('.label-name', { hasText: /^ci-tiny$/ }) }).first();
    await ciTiny.waitFor({ timeout: 30_000 });
    assert.match(await ciTiny.innerText(), /\b18\b/);
  });

  it('lists "CXR: Train Model" in the command palette', async () => {
    // The palette's list is virtualised (only the rows in view exist in the page), so filter down to the command.
    const titles = await s.paletteCommands('CXR: Train');
    assert.ok(titles.includes('CXR: Train Model'), `palette listed: ${titles.join(' | ')}`);
  });
});

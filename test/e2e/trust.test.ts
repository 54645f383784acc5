/**
 * Workspace trust left on (VS Code's default): in an untrusted workspace (Restricted Mode) training is refused with a
 * clear message, and no run folder is written.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { CodeServerSession, useSession } from './harness';

describe('CXR Studio in an untrusted workspace', { timeout: 240_000 }, () => {
  let s: CodeServerSession;

  useSession({ name: 'trust', workspaceTrust: true }, (started) => {
    s = started;
  });

  it('refuses "CXR: Train Model" in Restricted Mode with a clear message', async () => {
    // The workbench asks whether to trust the folder's authors; decline.
    const dialog = s.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30_000 });
    await dialog.getByRole('button', { name: /No, I don.t trust/ }).click();
    await dialog.waitFor({ state: 'detached' });
    await s.page.locator('.statusbar-item').filter({ hasText: 'Restricted Mode' }).first().waitFor();

    await s.statusBarItem('cxr.status').waitFor({ timeout: 60_000 });
    await s.runCommand('CXR: Train Model');
    const toast = await s.waitToast(/Restricted Mode/);
    assert.match(await toast.innerText(), /training is disabled/i);
    assert.equal(fs.existsSync(s.runsDir) ? fs.readdirSync(s.runsDir).length : 0, 0, 'no run folder written');
  });
});

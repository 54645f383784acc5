/**
 * The training form in code-server with the packaged extension: it opens with the recipe's defaults, refuses an
 * out-of-range value with the engine's sentence (focus on the field, nothing started), starts a training on ci-tiny
 * with a changed epoch count that the run's config.json records, and remembers the values after it is reopened.
 * Screenshots in dark, light and high-contrast themes go to test-artifacts/e2e/training-form/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { TrainingFormIds as ids } from '../../common/src/trainingForm';
import { WebviewIds } from '../../common/src/webviewProtocol';
import type { TrainingFormField } from '../../common/src/trainingForm';
import { CodeServerSession, STATUS_ENGINE, useSession } from './harness';

async function waitUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('CXR Studio training form in code-server', { timeout: 300_000 }, () => {
  let s: CodeServerSession;
  let form: FrameLocator;
  const field = (name: TrainingFormField) => form.locator(`#${ids.field(name)}`);

  useSession({ name: 'training-form' }, async (started) => {
    s = started;
    await s.statusBarItem('cxr.status').filter({ hasText: new RegExp(`\\b${STATUS_ENGINE}`) }).waitFor({ timeout: 90_000 });
  });

  async function openForm(): Promise<void> {
    await s.runCommand('CXR: Configure Training...');
    form = await s.webviewWith(ids.form, 60_000);
    // The backend's options have arrived when the freeze points are listed.
    await form.locator(`#${ids.field('freezeAt')} option`).nth(1).waitFor({ state: 'attached', timeout: 60_000 });
  }

  it("opens with the recipe's defaults, every control labelled, and refuses an out-of-range value with the engine's sentence", async () => {
    await openForm();
    assert.equal(await field('dataset').inputValue(), s.dataDir);
    assert.equal(await field('backbone').inputValue(), 'mobilenet_v2');
    assert.equal(await field('freezeAt').inputValue(), 'out_relu');
    assert.deepEqual(
      [await field('epochs').inputValue(), await field('batchSize').inputValue(), await field('learningRate').inputValue(), await field('momentum').inputValue()],
      ['20', '32', '0.003', '0.9'],
    );
    assert.equal(await field('augment').isChecked(), false, 'the MobileNetV2 recipe trains without augmentation');
    assert.equal(await field('rotationDeg').isDisabled(), true);
    // Every control has a label naming it (screen readers read it) and says where its error message is.
    const unlabelled = await form.locator('[data-field]').evaluateAll((els) =>
      els.filter((el) => !(el as unknown as { labels?: { length: number } }).labels?.length || !el.getAttribute('aria-describedby')).map((el) => el.id),
    );
    assert.deepEqual(unlabelled, []);

    await field('momentum').fill('1.5');
    const error = form.locator(`#${ids.error('momentum')}`);
    await error.filter({ hasText: 'The momentum must be a number in [0, 1) (got 1.5).' }).waitFor();
    assert.equal(await field('momentum').getAttribute('aria-invalid'), 'true');
    await field('epochs').fill('two');
    await form.locator(`#${ids.error('epochs')}`).filter({ hasText: /"two" is not a number\. The number of epochs must be a whole number from 1 to 100000/ }).waitFor();
    await form.locator(`#${ids.start}`).click();
    await form.locator(`#${ids.summary}`).filter({ hasText: '2 values need fixing' }).waitFor();
    // Focus goes to the first invalid field, in the form's order (epochs comes before momentum).
    assert.equal(await form.locator(':focus').getAttribute('id'), ids.field('epochs'));
    assert.ok(!fs.existsSync(s.runsDir) || fs.readdirSync(s.runsDir).length === 0, 'nothing may start with invalid values');
    await s.screenshot('form-invalid');
  });

  it('starts a training on ci-tiny with a changed epoch count, which the run records', async () => {
    await field('momentum').fill('0.8');
    await field('epochs').fill('2');
    await field('batchSize').fill('4');
    await field('seed').fill('7');
    await form.locator(`#${ids.summary}`).waitFor({ state: 'hidden' }).catch(() => undefined);
    await form.locator(`#${ids.start}`).click();
    let run = '';
    await waitUntil(() => {
      const name = fs.existsSync(s.runsDir) ? fs.readdirSync(s.runsDir).find((n) => n.startsWith('ci-tiny-mobilenet_v2-')) : undefined;
      run = name ? path.join(s.runsDir, name) : '';
      return run !== '' && fs.existsSync(path.join(run, 'config.json'));
    }, 60_000, 'the run writes its config.json');
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(
      { epochs: config.epochs, batchSize: config.batchSize, momentum: config.momentum, seed: config.seed, freezeAt: config.freezeAt, augment: config.augment, data: config.data },
      { epochs: 2, batchSize: 4, momentum: 0.8, seed: 7, freezeAt: 'out_relu', augment: null, data: s.dataDir },
    );
    // The same request as Train Model: the dashboard opens on the run, and it finishes its two epochs.
    await s.tab(`Training: ${path.basename(run)}`).waitFor({ timeout: 30_000 });
    await s.waitToast(new RegExp(`${path.basename(run)}: training completed after 2 epochs`), 180_000);
    await s.clearNotifications();
    // The dashboard lists the run's whole configuration, as recorded.
    const dashboard = await s.webviewWith(WebviewIds.dashboard.config, 30_000);
    await dashboard.locator('.config-section summary').click();
    const value = (key: string) => dashboard.locator(`#${WebviewIds.dashboard.config} dd[data-key="${key}"]`);
    await value('Epochs').filter({ hasText: /^2$/ }).waitFor({ timeout: 30_000 });
    assert.deepEqual(
      [await value('Batch size').innerText(), await value('Momentum').innerText(), await value('Seed').innerText(), await value('Augmentation').innerText(), await value('Frozen up to layer').innerText()],
      ['4', '0.8', '7', 'off', 'out_relu'],
    );
    await s.screenshot('dashboard-configuration');
    // The form (behind the dashboard now) says what it started.
    await s.tab('Configure Training').click();
    form = await s.webviewWith(ids.form, 30_000);
    await form.locator(`#${ids.message}`).filter({ hasText: `Started ${path.basename(run)}.` }).waitFor({ timeout: 30_000 });
  });

  it('remembers the values after the form is closed and opened again', async () => {
    await s.runCommand('View: Close All Editors');
    await openForm();
    assert.deepEqual(
      [await field('epochs').inputValue(), await field('batchSize').inputValue(), await field('momentum').inputValue(), await field('seed').inputValue()],
      ['2', '4', '0.8', '7'],
    );
    // Reset brings the recipe back (and is remembered too).
    await form.locator(`#${ids.reset}`).click();
    assert.equal(await field('epochs').inputValue(), '20');
    await field('backbone').selectOption('vgg16');
    assert.equal(await field('freezeAt').inputValue(), 'block3_pool', "the freeze point follows the backbone's recipe");
    await form.locator(`#${ids.reset}`).click();
    assert.equal(await field('augment').isChecked(), true, 'the VGG16 recipe augments');
    for (const theme of ['Light Modern', 'Dark High Contrast', 'Light High Contrast', 'Dark Modern']) {
      await s.setColorTheme(theme);
      await s.page.waitForTimeout(300);
      await s.screenshot(`form-${theme}`);
    }
  });
});

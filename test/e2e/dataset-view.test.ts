/**
 * The dataset view in code-server with the packaged extension: opened from the Datasets tree, it shows ci-tiny's
 * class balance as on disk and a thumbnail grid per split and class, every thumbnail a small JPEG the backend made
 * (never the full image); after an audit its findings show in the view and as children of the dataset in the tree,
 * and again after a window reload (the backend keeps each dataset's latest audit).
 * Screenshots in dark, light and high-contrast themes go to test-artifacts/e2e/dataset-view/ (text contrast checked).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { DatasetViewIds as ids } from '../../common/src/datasetView';
import { parseColor, sampleChartColours, sampleText, textContrast } from './contrast';
import { CodeServerSession, STATUS_ENGINE, useSession } from './harness';

const CLASSES = ['Covid', 'Normal', 'Viral Pneumonia'];

describe('CXR Studio dataset view in code-server', { timeout: 300_000 }, () => {
  let s: CodeServerSession;
  let view: FrameLocator;
  const onDisk = (split: string, cls: string) => fs.readdirSync(path.join(s.dataDir, split, cls)).length;

  useSession({ name: 'dataset-view' }, async (started) => {
    s = started;
    await s.statusBarItem('cxr.status').filter({ hasText: new RegExp(`\\b${STATUS_ENGINE}`) }).waitFor({ timeout: 90_000 });
  });

  it('shows the class balance and a thumbnail grid per split and class, made small by the backend', async () => {
    const row = await s.viewRow('Datasets', 'ci-tiny');
    const items = await s.rightClickRow(row);
    assert.ok(items.includes('Open Dataset View'), items.join(' | '));
    await s.contextMenuItem('Open Dataset View');
    view = await s.webviewWith(ids.grid, 60_000);
    await view.locator('#images-status').filter({ hasText: '18 thumbnails of 18 images.' }).waitFor({ timeout: 60_000 });

    for (const cls of CLASSES) {
      const cells = await view.locator(`#${ids.balance} tbody tr[data-class="${cls}"] td`).allInnerTexts();
      assert.deepEqual(cells.slice(0, 3).map(Number), [onDisk('train', cls), onDisk('test', cls), onDisk('train', cls) + onDisk('test', cls)], cls);
    }
    const groups = await view.locator('.thumb-group').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-split')}/${e.getAttribute('data-class')}:${e.getAttribute('data-count')}`));
    assert.deepEqual(groups, ['train', 'test'].flatMap((split) => CLASSES.map((c) => `${split}/${c}:${onDisk(split, c)}`)));
    const images = await view.locator(`#${ids.grid} img`).evaluateAll((imgs) =>
      imgs.map((i) => ({ src: (i.getAttribute('src') ?? '').slice(0, 23), w: (i as unknown as { naturalWidth: number }).naturalWidth, alt: i.getAttribute('alt') ?? '' })),
    );
    assert.equal(images.length, 18);
    for (const img of images) {
      assert.equal(img.src, 'data:image/jpeg;base64,', 'thumbnails come from the backend as small JPEGs, not file URLs');
      assert.equal(img.w, 96, 'a 96-pixel thumbnail, not the full image');
      assert.match(img.alt, /^(Covid|Normal|Viral Pneumonia), (train|test): \S+/);
    }
    // A thumbnail is a button: it opens its image.
    await view.locator('.thumb-group[data-split="test"][data-class="Covid"] button[data-file$="0105.png"]').click();
    await s.tab('0105.png').waitFor({ timeout: 30_000 });
    await s.tab('Dataset: ci-tiny').click();
  });

  it("shows the audit's findings in the view and under the dataset in the Datasets tree", async () => {
    view = await s.webviewWith(ids.grid, 90_000);
    await view.locator(`#${ids.findings}`).filter({ hasText: 'No audit of this dataset' }).waitFor();
    await view.locator(`#${ids.runAudit}`).click();
    await s.tab(/^Preview ci-tiny-audit\.md$/).waitFor({ timeout: 90_000 });
    await s.tab('Dataset: ci-tiny').click();
    view = await s.webviewWith(ids.grid, 90_000);
    const findings = view.locator(`#${ids.findings} li.finding`);
    await findings.first().waitFor({ timeout: 30_000 });
    const kinds = await findings.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    assert.ok(kinds.length > 0);
    // The same findings as children of ci-tiny in the Datasets tree, after its classes.
    const dataset = await s.viewRow('Datasets', 'ci-tiny');
    if ((await dataset.getAttribute('aria-expanded')) !== 'true') await dataset.click();
    const body = await s.expandView('Datasets');
    const children = body.locator('.monaco-list-row[aria-level="2"] .label-name');
    await children.filter({ hasText: /^(info|warning|critical): / }).first().waitFor({ timeout: 30_000 });
    const labels = await children.allInnerTexts();
    assert.deepEqual(labels.slice(0, 3), CLASSES);
    assert.deepEqual(labels.slice(3).map((l) => l.replace(/^\w+: /, '')), kinds);
    await s.clearNotifications().catch(() => undefined);
  });

  it('shows the same findings, with the audit\'s date, after a window reload (the backend kept the audit)', async () => {
    view = await s.webviewWith(ids.grid, 90_000);
    const before = await view.locator(`#${ids.findings} li.finding`).evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    await view.locator('#audit-age').filter({ hasText: /^From the audit of / }).waitFor();
    await s.runCommand('Developer: Reload Window');
    await s.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await s.tab('Dataset: ci-tiny').waitFor({ timeout: 90_000 });
    await s.tab('Dataset: ci-tiny').click();
    view = await s.webviewWith(ids.grid, 90_000);
    const findings = view.locator(`#${ids.findings} li.finding`);
    await findings.first().waitFor({ timeout: 60_000 });
    assert.deepEqual(await findings.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind'))), before);
    await view.locator('#audit-age').filter({ hasText: /^From the audit of / }).waitFor();
    const dataset = await s.viewRow('Datasets', 'ci-tiny');
    if ((await dataset.getAttribute('aria-expanded')) !== 'true') await dataset.click();
    const body = await s.expandView('Datasets');
    await body.locator('.monaco-list-row[aria-level="2"] .label-name').filter({ hasText: /^(info|warning|critical): / }).first().waitFor({ timeout: 30_000 });
  });

  for (const theme of ['Dark Modern', 'Light Modern', 'Dark High Contrast', 'Light High Contrast']) {
    it(`reads at WCAG AA contrast in ${theme}`, async () => {
      await s.setColorTheme(theme);
      await s.tab('Dataset: ci-tiny').click();
      const frame = await s.webviewWith(ids.grid, 90_000);
      await frame.locator(`#${ids.grid} img`).first().waitFor();
      await s.page.waitForTimeout(200);
      await s.screenshot(`dataset-${theme}`);
      const pageBg = parseColor((await sampleChartColours(frame)).page)!;
      const failures: string[] = [];
      for (const sample of await sampleText(frame)) {
        const { ratio, needed } = textContrast(sample, pageBg);
        if (ratio < needed) failures.push(`${sample.what} ${ratio.toFixed(2)}:1 < ${needed}:1 (${sample.color})`);
      }
      assert.deepEqual(failures, []);
    });
  }
});

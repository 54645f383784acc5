import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { CI_TINY, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

describe('backend process: cxr/auditDataset', () => {
  let backend: BackendProcess;
  let work: string;

  before(async () => {
    work = tmpDir('proto-audit');
    // ci-tiny with one training image copied into test/: a cross-split duplicate the audit must name.
    fs.cpSync(requireShared(CI_TINY), path.join(work, 'data'), { recursive: true });
    fs.copyFileSync(path.join(work, 'data', 'train', 'Normal', '011.jpeg'), path.join(work, 'data', 'test', 'Normal', 'leaked.jpeg'));
    backend = await BackendProcess.start({ roots: [work], trusted: false });
  });

  after(async () => {
    await backend?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('answers the findings and a Markdown report with thumbnails of each duplicate pair (also in untrusted workspaces)', async () => {
    const data = path.join(work, 'data');
    const result = await backend.conn.sendRequest(protocol.auditDataset, { data });
    assert.equal(result.images, 19);
    const leak = result.findings.find((f) => f.kind === 'near-duplicate');
    assert.ok(leak);
    assert.equal(leak.severity, 'critical');
    assert.deepEqual(result.testFilesWithTrainDuplicate, [path.join(data, 'test', 'Normal', 'leaked.jpeg')]);
    assert.match(result.markdown, /^# Dataset audit: data/);
    assert.ok(result.markdown.includes(`<img src="${pathToFileURL(path.join(data, 'test', 'Normal', 'leaked.jpeg')).href}"`), result.markdown);
    assert.ok(result.markdown.includes('**CRITICAL** (near-duplicate)'));
  });

  it("keeps each dataset's latest audit for later sessions, and says when the dataset's files changed since", async () => {
    const data = path.join(work, 'data');
    const audited = await backend.conn.sendRequest(protocol.auditDataset, { data });
    const { markdown, ...result } = audited;
    assert.ok(markdown.length > 0);
    const first = await backend.conn.sendRequest(protocol.lastAudit, { data });
    assert.ok(first);
    assert.deepEqual(first.result, result);
    assert.equal(first.changedSince, false);
    assert.ok(Math.abs(Date.parse(first.auditedAt) - Date.now()) < 60_000, first.auditedAt);

    // A new backend process (a window reload) answers it from the cache folder.
    await backend.stop();
    backend = await BackendProcess.start({ roots: [work], trusted: false });
    const reloaded = await backend.conn.sendRequest(protocol.lastAudit, { data });
    assert.deepEqual(reloaded, first);

    const added = path.join(data, 'train', 'Covid', 'added.png');
    fs.copyFileSync(path.join(data, 'train', 'Covid', '010.png'), added);
    const changed = await backend.conn.sendRequest(protocol.lastAudit, { data });
    assert.equal(changed?.changedSince, true);
    assert.deepEqual(changed?.result.findings, first.result.findings);
    fs.rmSync(added);

    const never = path.join(work, 'never-audited');
    fs.cpSync(data, never, { recursive: true });
    assert.equal(await backend.conn.sendRequest(protocol.lastAudit, { data: never }), null);
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.lastAudit, { data: path.dirname(requireShared(CI_TINY)) }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
  });

  it('refuses a dataset outside the allowed roots', async () => {
    const err = await expectCxrError(() => backend.conn.sendRequest(protocol.auditDataset, { data: path.dirname(requireShared(CI_TINY)) }));
    assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS');
  });
});

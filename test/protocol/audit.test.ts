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

  it('refuses a dataset outside the allowed roots', async () => {
    const err = await expectCxrError(() => backend.conn.sendRequest(protocol.auditDataset, { data: path.dirname(requireShared(CI_TINY)) }));
    assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS');
  });
});

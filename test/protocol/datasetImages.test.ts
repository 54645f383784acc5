import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { CI_TINY, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

describe('backend process: dataset images for folder and CSV datasets', () => {
  let backend: BackendProcess;
  let work: string;
  const dataRoot = path.dirname(requireShared(CI_TINY));

  before(async () => {
    work = tmpDir('proto-images');
    // A CSV manifest with patient IDs over part of ci-tiny: a dataset of its own (it groups the split by patient).
    const rows = ['path,label,split,patient_id'];
    for (const cls of ['Covid', 'Normal']) {
      for (const f of fs.readdirSync(path.join(CI_TINY, 'train', cls)).sort()) rows.push(`${path.join(CI_TINY, 'train', cls, f)},${cls},train,p-${f}`);
    }
    fs.writeFileSync(path.join(work, 'patients.csv'), rows.join('\n') + '\n');
    backend = await BackendProcess.start({ roots: [work, dataRoot] });
  });

  after(async () => {
    await backend?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('lists a folder dataset class with its files and splits', async () => {
    const images = await backend.conn.sendRequest(protocol.datasetImages, { dataset: CI_TINY, className: 'Covid' });
    const expected = ['train', 'test'].flatMap((split) =>
      fs.readdirSync(path.join(CI_TINY, split, 'Covid')).map((f) => `${split}:${path.join(CI_TINY, split, 'Covid', f)}`),
    );
    assert.deepEqual(images.map((i) => `${i.split}:${i.file}`).sort(), expected.sort());
    assert.ok(images.every((i) => i.label === 'Covid'));
    const testOnly = await backend.conn.sendRequest(protocol.datasetImages, { dataset: CI_TINY, split: 'test' });
    assert.equal(testOnly.length, 6);
  });

  it('lists the images of a CSV dataset, which the scan keeps as a dataset of its own', async () => {
    const csv = path.join(work, 'patients.csv');
    const found = await backend.conn.sendRequest(protocol.scanDatasets, { roots: [work, dataRoot] });
    assert.ok(found.some((d) => d.path === csv && d.source === 'csv'), found.map((d) => d.path).join(', '));
    assert.ok(!found.some((d) => d.path === path.join(CI_TINY, 'labels.csv')));
    const normal = await backend.conn.sendRequest(protocol.datasetImages, { dataset: csv, className: 'Normal' });
    assert.equal(normal.length, 4);
    assert.ok(normal.every((i) => i.split === 'train' && i.file.startsWith(path.join(CI_TINY, 'train', 'Normal'))));
  });

  it('refuses a dataset outside the roots and a bad split', async () => {
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.datasetImages, { dataset: '/etc' }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
    const split = await expectCxrError(() => backend.conn.sendRequest('cxr/datasetImages', { dataset: CI_TINY, split: 'val' }));
    assert.equal(split.code, 'INVALID_ARGUMENT');
    assert.ok(backend.alive);
  });
});

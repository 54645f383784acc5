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

  it('lists a dataset reached both directly and through a link in a scanned folder once', async () => {
    // A workspace folder holding a link to a data root that is also scanned (the e2e sessions' and many users' layout).
    const scanned = path.join(work, 'scanned');
    fs.mkdirSync(scanned);
    fs.symlinkSync(dataRoot, path.join(scanned, 'linked-data'));
    const found = await backend.conn.sendRequest(protocol.scanDatasets, { roots: [scanned, dataRoot] });
    const real = (p: string): string => fs.realpathSync(p);
    const ciTiny = found.filter((d) => real(d.path) === real(CI_TINY));
    assert.equal(ciTiny.length, 1, `ci-tiny listed as ${ciTiny.map((d) => d.path).join(', ')}`);
    assert.equal(ciTiny[0].path, real(CI_TINY) === CI_TINY ? CI_TINY : path.join(scanned, 'linked-data', 'ci-tiny'), 'the path that is real is kept');
    const realPaths = found.map((d) => real(d.path));
    assert.equal(new Set(realPaths).size, realPaths.length, `a dataset listed twice: ${found.map((d) => d.path).join(', ')}`);
  });

  it('refuses a dataset outside the roots and a bad split', async () => {
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.datasetImages, { dataset: '/etc' }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
    const split = await expectCxrError(() => backend.conn.sendRequest('cxr/datasetImages', { dataset: CI_TINY, split: 'val' }));
    assert.equal(split.code, 'INVALID_ARGUMENT');
    assert.ok(backend.alive);
  });
});

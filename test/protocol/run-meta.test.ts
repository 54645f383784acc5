import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { Engine } from '../../server/src/engine/engine';
import { CI_TINY, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

/** cxr/updateRunMeta over JSON-RPC against the real backend process: rename, notes and tags of a run. */
describe('backend process: rename, notes and tags of runs', () => {
  let backend: BackendProcess;
  let runsRoot: string;
  let outsideRoot: string;
  let run: string;

  before(async () => {
    requireShared(CI_TINY);
    runsRoot = tmpDir('proto-meta-runs');
    outsideRoot = tmpDir('proto-meta-outside');
    run = path.join(runsRoot, 'lr-0.01');
    const r = await new Engine().train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 4 });
    assert.equal(r.status, 'completed');
    fs.cpSync(run, path.join(outsideRoot, 'other'), { recursive: true });
    backend = await BackendProcess.start({ roots: [runsRoot, path.dirname(CI_TINY)] });
  });

  after(async () => {
    await backend?.stop();
    for (const d of [runsRoot, outsideRoot]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('renames a run, sets its notes and tags, answers the new summary and lists them', async () => {
    const renamed = await backend.conn.sendRequest(protocol.updateRunMeta, { runDir: run, displayName: 'Baseline' });
    assert.deepEqual([renamed.name, renamed.displayName, renamed.runDir], ['lr-0.01', 'Baseline', run]);
    const tagged = await backend.conn.sendRequest(protocol.updateRunMeta, { runDir: run, notes: 'first try', tags: ['baseline', 'mnv2'] });
    assert.deepEqual([tagged.displayName, tagged.notes, tagged.tags], ['Baseline', 'first try', ['baseline', 'mnv2']]);
    const [listed] = await backend.conn.sendRequest(protocol.listRuns, { runsRoot });
    assert.deepEqual([listed.displayName, listed.notes, listed.tags], ['Baseline', 'first try', ['baseline', 'mnv2']]);
    const details = await backend.conn.sendRequest(protocol.runDetails, { runDir: run });
    assert.equal(details.summary.displayName, 'Baseline');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'meta.json'), 'utf8')), { displayName: 'Baseline', notes: 'first try', tags: ['baseline', 'mnv2'] });
    const reset = await backend.conn.sendRequest(protocol.updateRunMeta, { runDir: run, displayName: null });
    assert.equal(reset.displayName, null);
  });

  it('refuses invalid input with a typed INVALID_ARGUMENT naming the field, writes nothing, and stays up', async () => {
    const before = fs.readFileSync(path.join(run, 'meta.json'), 'utf8');
    const cases: [unknown, string][] = [
      [{ runDir: run, tags: ['two words'] }, 'tags'],
      [{ runDir: run, tags: 'baseline' }, 'tags'],
      [{ runDir: run, tags: [1] }, 'tags'],
      [{ runDir: run, displayName: 7 }, 'displayName'],
      [{ runDir: run, displayName: 'x'.repeat(200) }, 'displayName'],
      [{ runDir: run, notes: ['a'] }, 'notes'],
      [{ runDir: run }, 'displayName'],
      [{ displayName: 'x' }, 'runDir'],
    ];
    for (const [params, field] of cases) {
      const err = await expectCxrError(() => backend.conn.sendRequest('cxr/updateRunMeta', params));
      assert.equal(err.code, 'INVALID_ARGUMENT', `${JSON.stringify(params).slice(0, 80)}: ${err.message}`);
      assert.equal(err.rpcCode, protocol.JSON_RPC_ERROR_CODES.INVALID_ARGUMENT);
      assert.equal(err.details?.field, field, err.message);
    }
    assert.equal(fs.readFileSync(path.join(run, 'meta.json'), 'utf8'), before);
    assert.ok(backend.alive);
  });

  it('holds to the allowed roots: a run outside them, a relative path, or a meta.json linking out is refused', async () => {
    const other = path.join(outsideRoot, 'other');
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.updateRunMeta, { runDir: other, displayName: 'x' }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
    assert.equal(fs.existsSync(path.join(other, 'meta.json')), false);
    const relative = await expectCxrError(() => backend.conn.sendRequest(protocol.updateRunMeta, { runDir: 'runs/lr-0.01', displayName: 'x' }));
    assert.equal(relative.code, 'INVALID_ARGUMENT');

    const linked = path.join(runsRoot, 'linked');
    fs.cpSync(run, linked, { recursive: true });
    fs.rmSync(path.join(linked, 'meta.json'));
    const target = path.join(outsideRoot, 'precious.json');
    fs.writeFileSync(target, '{"precious": true}');
    fs.symlinkSync(target, path.join(linked, 'meta.json'));
    const out = await expectCxrError(() => backend.conn.sendRequest(protocol.updateRunMeta, { runDir: linked, tags: ['x'] }));
    assert.equal(out.code, 'OUTSIDE_ALLOWED_ROOTS');
    assert.equal(fs.readFileSync(target, 'utf8'), '{"precious": true}');
    assert.ok(backend.alive);
  });
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../server/src/engine/engine';
import { deleteRun, listRuns, readRunDetails, readRunSummary, updateRunMeta } from '../../server/src/engine/runStore';
import { AllowedRoots } from '../../server/src/engine/security/pathPolicy';
import { CI_TINY, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';

/** Rename, notes and tags of a run: kept in its meta.json by the run store, checked, and held to the allowed roots. */

const scratchDir = scratchDirFactory();
let trained: string;

before(async () => {
  requireShared(CI_TINY);
  trained = path.join(scratchDir('meta'), 'run');
  const r = await new Engine().train({ data: CI_TINY, out: trained, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 5 });
  assert.equal(r.status, 'completed');
});

function copyRun(): { runsRoot: string; run: string } {
  const runsRoot = scratchDir('meta-runs');
  const run = path.join(runsRoot, 'run-a');
  fs.cpSync(trained, run, { recursive: true });
  return { runsRoot, run };
}

const update = (u: Parameters<typeof updateRunMeta>[0], paths?: AllowedRoots) => Promise.resolve().then(() => updateRunMeta(u, paths));

describe('run metadata (meta.json)', () => {
  it('starts with no name, notes or tags: the folder name shows', async () => {
    const { run } = copyRun();
    const summary = await readRunSummary(run);
    assert.equal(summary.name, 'run-a');
    assert.equal(summary.displayName, null);
    assert.equal(summary.notes, '');
    assert.deepEqual(summary.tags, []);
    assert.equal(fs.existsSync(path.join(run, 'meta.json')), false);
  });

  it('persists a rename, notes and tags, each kept when another is changed, and lists them', async () => {
    const { runsRoot, run } = copyRun();
    const renamed = updateRunMeta({ runDir: run, displayName: '  Baseline lr 0.01  ' });
    assert.equal(renamed.displayName, 'Baseline lr 0.01');
    assert.equal(renamed.name, 'run-a', 'the folder is not renamed');
    updateRunMeta({ runDir: run, notes: 'First try.\r\nAugmentation off.\n\n' });
    const tagged = updateRunMeta({ runDir: run, tags: [' baseline', 'lr:0.01', 'baseline', 'sweep/2'] });
    assert.deepEqual(tagged.tags, ['baseline', 'lr:0.01', 'sweep/2'], 'trimmed, duplicates dropped, order kept');
    assert.equal(tagged.displayName, 'Baseline lr 0.01');
    assert.equal(tagged.notes, 'First try.\nAugmentation off.');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'meta.json'), 'utf8')), {
      displayName: 'Baseline lr 0.01',
      notes: 'First try.\nAugmentation off.',
      tags: ['baseline', 'lr:0.01', 'sweep/2'],
    });
    const [listed] = await listRuns(runsRoot);
    assert.deepEqual([listed.displayName, listed.notes, listed.tags], ['Baseline lr 0.01', 'First try.\nAugmentation off.', ['baseline', 'lr:0.01', 'sweep/2']]);
    assert.equal(readRunDetails(run).summary.displayName, 'Baseline lr 0.01');
    // An empty name, or null, goes back to the folder name; tags can be cleared.
    assert.equal(updateRunMeta({ runDir: run, displayName: '   ' }).displayName, null);
    updateRunMeta({ runDir: run, displayName: 'again' });
    const reset = updateRunMeta({ runDir: run, displayName: null, tags: [] });
    assert.deepEqual([reset.displayName, reset.tags, reset.notes], [null, [], 'First try.\nAugmentation off.']);
  });

  it('refuses invalid names, notes and tags with INVALID_ARGUMENT naming the field, and writes nothing', async () => {
    const { run } = copyRun();
    updateRunMeta({ runDir: run, displayName: 'kept', tags: ['kept'] });
    const before = fs.readFileSync(path.join(run, 'meta.json'), 'utf8');
    const cases: [Parameters<typeof updateRunMeta>[0], string, RegExp][] = [
      [{ runDir: run, displayName: 'x'.repeat(81) }, 'displayName', /at most 80 characters/],
      [{ runDir: run, displayName: 'two\nlines' }, 'displayName', /one line/],
      [{ runDir: run, displayName: 42 as unknown as string }, 'displayName', /must be a string/],
      [{ runDir: run, notes: 'bell \u0007' }, 'notes', /control characters/],
      [{ runDir: run, notes: 'n'.repeat(10_001) }, 'notes', /at most 10000 characters/],
      [{ runDir: run, tags: ['two words'] }, 'tags', /'two words' is not a tag/],
      [{ runDir: run, tags: ['a,b'] }, 'tags', /is not a tag/],
      [{ runDir: run, tags: ['-leading'] }, 'tags', /is not a tag/],
      [{ runDir: run, tags: ['t'.repeat(33)] }, 'tags', /is not a tag/],
      [{ runDir: run, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags', /at most 20 tags/],
      [{ runDir: run, tags: 'baseline' as unknown as string[] }, 'tags', /array of strings/],
      // A valid name with an invalid tag: nothing of it is written.
      [{ runDir: run, displayName: 'new name', tags: ['bad tag'] }, 'tags', /is not a tag/],
    ];
    for (const [u, field, message] of cases) {
      const err = await rejectsWithCxrError(update(u), 'INVALID_ARGUMENT', message);
      assert.equal(err.details?.field, field, err.message);
    }
    assert.equal(fs.readFileSync(path.join(run, 'meta.json'), 'utf8'), before);
  });

  it('lists a run whose meta.json is unreadable as one with nothing said, and rewrites it on the next change', async () => {
    const { runsRoot, run } = copyRun();
    fs.writeFileSync(path.join(run, 'meta.json'), '{ not json');
    const [listed] = await listRuns(runsRoot);
    assert.deepEqual([listed.name, listed.displayName, listed.tags], ['run-a', null, []]);
    assert.equal(updateRunMeta({ runDir: run, tags: ['fixed'] }).tags[0], 'fixed');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'meta.json'), 'utf8')).tags, ['fixed']);
  });

  it('is part of the run: deleting a run with notes removes its meta.json too', async () => {
    const { run } = copyRun();
    updateRunMeta({ runDir: run, notes: 'to be deleted' });
    const deleted = await deleteRun(run);
    assert.ok(deleted.removed.includes('meta.json'), deleted.removed.join(', '));
    assert.equal(fs.existsSync(run), false);
  });

  it('holds to the allowed roots: a run outside them, or a meta.json linking outside, is refused and nothing is written', async () => {
    const { runsRoot, run } = copyRun();
    const elsewhere = scratchDir('meta-elsewhere');
    const outside = await rejectsWithCxrError(update({ runDir: run, displayName: 'x' }, new AllowedRoots([elsewhere])), 'OUTSIDE_ALLOWED_ROOTS', /./);
    assert.ok(outside);
    assert.equal(fs.existsSync(path.join(run, 'meta.json')), false);

    const target = path.join(elsewhere, 'precious.json');
    fs.writeFileSync(target, '{"precious": true}');
    fs.symlinkSync(target, path.join(run, 'meta.json'));
    const linked = await rejectsWithCxrError(update({ runDir: run, notes: 'x' }, new AllowedRoots([runsRoot])), 'OUTSIDE_ALLOWED_ROOTS', /meta\.json/);
    assert.ok(linked);
    assert.equal(fs.readFileSync(target, 'utf8'), '{"precious": true}');
    assert.ok(fs.lstatSync(path.join(run, 'meta.json')).isSymbolicLink());
    // Listing still works and does not read the linked file.
    const [listed] = await listRuns(runsRoot, new AllowedRoots([runsRoot]));
    assert.deepEqual([listed.displayName, listed.notes], [null, '']);
  });

  it('refuses a folder that is not a run with RUN_INVALID', async () => {
    const notRun = scratchDir('meta-not-run');
    await rejectsWithCxrError(update({ runDir: notRun, displayName: 'x' }), 'RUN_INVALID', /not a CXR Studio run folder/);
    assert.equal(fs.existsSync(path.join(notRun, 'meta.json')), false);
  });
});

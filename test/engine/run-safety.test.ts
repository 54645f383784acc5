import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../server/src/engine/engine';
import { deleteRun, readRunSummary } from '../../server/src/engine/runStore';
import { AllowedRoots } from '../../server/src/engine/security/pathPolicy';
import { CI_TINY, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';

/** deleteRun's verification, recovery from every state an interrupted folder swap can leave, testAccuracy kept. */

const scratchDir = scratchDirFactory();
const engine = new Engine();
let trained: string;

before(async () => {
  requireShared(CI_TINY);
  trained = path.join(scratchDir('safety'), 'run');
  const r = await engine.train({ data: CI_TINY, out: trained, backbone: 'mobilenet_v2', epochs: 2, imageSize: 32, seed: 3 });
  assert.equal(r.status, 'completed');
});

function copyRun(name = 'run'): string {
  const dir = path.join(scratchDir('copy'), name);
  fs.cpSync(trained, dir, { recursive: true });
  return dir;
}

describe('deleteRun', () => {
  it('deletes a run and says what it removed, leftovers of interrupted writes included', async () => {
    const run = copyRun();
    fs.mkdirSync(path.join(run, 'checkpoint.tmp-1-2'));
    fs.writeFileSync(path.join(run, 'status.json.tmp-1-2'), '{');
    await engine.evaluate({ run, data: CI_TINY });
    const result = await deleteRun(run);
    assert.equal(result.runDir, run);
    for (const entry of ['checkpoint.tmp-1-2/', 'checkpoint/', 'classes.json', 'config.json', 'evaluation/', 'history.json', 'model/', 'status.json', 'status.json.tmp-1-2']) {
      assert.ok(result.removed.includes(entry), `${entry} not among ${result.removed.join(', ')}`);
    }
    assert.equal(fs.existsSync(run), false);
  });

  it('never deletes an allowed root, even one holding a config.json', async () => {
    const run = copyRun();
    const err = await rejectsWithCxrError(deleteRun(run, new AllowedRoots([run])), 'RUN_INVALID', /one of the folders CXR Studio may access/);
    assert.match(err.message, /nothing was deleted/);
    assert.ok(fs.existsSync(path.join(run, 'config.json')));
  });

  it('refuses a folder holding files a run does not, a foreign config.json, a symlink, and deletes nothing', async () => {
    const withExtra = copyRun();
    fs.writeFileSync(path.join(withExtra, 'thesis.docx'), 'precious');
    fs.writeFileSync(path.join(withExtra, 'model', 'notes.txt'), 'precious');
    const extra = await rejectsWithCxrError(deleteRun(withExtra), 'RUN_INVALID', /holds files a run does not \(model\/notes.txt, thesis.docx\)/);
    assert.match(extra.message, /nothing was deleted/);
    assert.ok(fs.existsSync(path.join(withExtra, 'thesis.docx')) && fs.existsSync(path.join(withExtra, 'model', 'weights.bin')));

    const foreign = scratchDir('foreign');
    fs.writeFileSync(path.join(foreign, 'config.json'), JSON.stringify({ name: 'some other tool' }));
    await rejectsWithCxrError(deleteRun(foreign), 'RUN_INVALID', /not a usable CXR Studio run config/);
    assert.ok(fs.existsSync(path.join(foreign, 'config.json')));

    const linkParent = scratchDir('link');
    fs.symlinkSync(copyRun(), path.join(linkParent, 'linked'));
    await rejectsWithCxrError(deleteRun(path.join(linkParent, 'linked')), 'RUN_INVALID', /not a folder \(a link or a file\)/);

    const notRun = scratchDir('plain');
    await rejectsWithCxrError(deleteRun(notRun), 'RUN_INVALID', /no config.json/);
    assert.ok(fs.existsSync(notRun));
  });
});

/** The states a crash inside replaceDirAtomic can leave for `which` (model or checkpoint). */
function crashState(run: string, which: 'model' | 'checkpoint', state: 'partial-tmp' | 'between-renames' | 'before-cleanup' | 'only-old'): void {
  const dir = path.join(run, which);
  const tmp = `${dir}.tmp-99-1000`;
  const old = `${dir}.old-99-1000`;
  switch (state) {
    case 'partial-tmp': // killed while filling tmp: dir intact, tmp half written
      fs.mkdirSync(tmp);
      fs.writeFileSync(path.join(tmp, 'weights.bin'), fs.readFileSync(path.join(dir, 'weights.bin')).subarray(0, 100));
      break;
    case 'between-renames': // dir renamed to old, tmp complete, no dir
      fs.cpSync(dir, tmp, { recursive: true });
      fs.renameSync(dir, old);
      break;
    case 'before-cleanup': // tmp already renamed into place, old not yet removed
      fs.cpSync(dir, old, { recursive: true });
      break;
    case 'only-old': // no dir, a half-written tmp, a complete old
      fs.renameSync(dir, old);
      fs.mkdirSync(tmp);
      fs.writeFileSync(path.join(tmp, 'weights_manifest.json'), '[{"paths"');
      break;
  }
}

describe('resume after a crash inside an atomic folder swap', () => {
  for (const which of ['checkpoint', 'model'] as const) {
    for (const state of ['partial-tmp', 'between-renames', 'before-cleanup', 'only-old'] as const) {
      it(`${which}: ${state}`, async () => {
        const run = copyRun();
        crashState(run, which, state);
        // Readable before any repair (a read-only run can still be evaluated into another folder).
        const out = scratchDir('eval-out');
        if (which === 'model') assert.equal((await engine.evaluate({ run, data: CI_TINY, outDir: out })).n, 6);
        // Resume with two more epochs: repairs, trains on, completes, leaves no leftovers.
        const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
        fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ ...config, epochs: 4 }));
        const events: string[] = [];
        const r = await engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', resume: true }, (e) => {
          if (e.kind === 'phase') events.push(e.message);
        });
        assert.equal(r.status, 'completed');
        assert.deepEqual(r.history.map((h) => h.epoch), [1, 2, 3, 4]);
        assert.ok(events.some((m) => m.startsWith('Repaired an interrupted write')), events.join(' | '));
        const left = fs.readdirSync(run).filter((e) => /\.(tmp|old)-/.test(e));
        assert.deepEqual(left, []);
        assert.ok(fs.existsSync(path.join(run, which, 'weights_manifest.json')));
      });
    }
  }
});

describe('testAccuracy recorded by an evaluation', () => {
  it('survives resuming a finished run and a cancelled training that found no better model', async () => {
    const run = copyRun();
    const evaluation = await engine.evaluate({ run, data: CI_TINY, split: 'test' });
    assert.equal((await readRunSummary(run)).testAccuracy, evaluation.accuracy);

    const resumed = await engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', resume: true });
    assert.equal(resumed.status, 'completed');
    assert.equal((await readRunSummary(run)).testAccuracy, evaluation.accuracy, 'resuming a finished run wiped testAccuracy');

    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ ...config, epochs: 10 }));
    const abort = new AbortController();
    const cancelled = await engine.train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', resume: true }, (e) => {
      if (e.kind === 'batch') abort.abort();
    }, abort.signal);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await readRunSummary(run)).testAccuracy, evaluation.accuracy, 'cancelling wiped testAccuracy');
  });
});

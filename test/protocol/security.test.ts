import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { Engine } from '../../server/src/engine/engine';
import { CI_TINY, MOBILENET_DIR, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

/**
 * The path guard against indirect escapes: every request that takes a path, fed files inside the allowed roots that
 * lead outside them (CSV rows, symlinks at every level of a dataset and of a run, the dataset recorded in a run's
 * config, shards named by a weights manifest). Run in a trusted and in an untrusted (Restricted Mode) backend. Each
 * refusal must be OUTSIDE_ALLOWED_ROOTS, must not depend on whether the outside file exists, and nothing may be
 * written outside.
 */

const IMAGE = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');

interface Layout {
  work: string;
  outside: string;
  run: string;
}

/** One trained run (imageSize 32, one epoch) reused by every case; trained in this process, unrestricted. */
async function trainRun(dir: string): Promise<string> {
  const engine = new Engine();
  const out = path.join(dir, 'runs', 'good');
  const r = await engine.train({ data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 1 });
  assert.equal(r.status, 'completed');
  engine.dispose();
  return out;
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

/** Builds every escape inside `work`; the things they lead to live in `outside`. */
function buildEscapes({ work, outside, run }: Layout): void {
  // Outside: a real dataset, an image, a run, a weights shard, an empty folder for writes.
  copyDir(CI_TINY, path.join(outside, 'data'));
  fs.copyFileSync(IMAGE, path.join(outside, 'secret.jpeg'));
  copyDir(run, path.join(outside, 'run'));
  fs.mkdirSync(path.join(outside, 'sink'));

  // CSV manifests whose rows leave the roots: ../, absolute; an existing and a missing target under one name.
  const csv = (dir: string, row: string): void => {
    fs.mkdirSync(path.join(work, dir), { recursive: true });
    const rows = ['path,label,split', ...fs.readFileSync(path.join(CI_TINY, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => {
      const [split, label, file] = l.split(',');
      return `${path.join(CI_TINY, file)},${label},${split}`;
    })];
    rows.splice(1, 0, `${row},Covid,test`);
    fs.writeFileSync(path.join(work, dir, 'labels.csv'), rows.join('\n') + '\n');
  };
  const rel = (dir: string, target: string) => path.relative(path.join(work, dir), target);
  csv('csv-dotdot-existing', rel('csv-dotdot-existing', path.join(outside, 'secret.jpeg')));
  csv('csv-dotdot-missing', rel('csv-dotdot-missing', path.join(outside, 'missing.jpeg')));
  csv('csv-absolute', path.join(outside, 'secret.jpeg'));

  // Folder datasets with a symlink at each level: the image, the class folder, the split folder.
  const dataset = (name: string): string => {
    const d = path.join(work, name);
    copyDir(CI_TINY, d);
    return d;
  };
  fs.symlinkSync(path.join(outside, 'secret.jpeg'), path.join(dataset('ds-image-link'), 'test', 'Covid', 'zz-link.jpeg'));
  fs.symlinkSync(path.join(outside, 'missing.jpeg'), path.join(dataset('ds-dangling-link'), 'test', 'Covid', 'zz-link.jpeg'));
  const classLink = dataset('ds-class-link');
  fs.rmSync(path.join(classLink, 'test', 'Covid'), { recursive: true });
  fs.symlinkSync(path.join(outside, 'data', 'test', 'Covid'), path.join(classLink, 'test', 'Covid'));
  const splitLink = dataset('ds-split-link');
  fs.rmSync(path.join(splitLink, 'test'), { recursive: true });
  fs.symlinkSync(path.join(outside, 'data', 'test'), path.join(splitLink, 'test'));

  // A run whose config records a dataset outside the roots.
  const recorded = path.join(work, 'runs', 'recorded-outside');
  copyDir(run, recorded);
  const config = JSON.parse(fs.readFileSync(path.join(recorded, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(recorded, 'config.json'), JSON.stringify({ ...config, data: path.join(outside, 'data') }));
  fs.writeFileSync(path.join(recorded, 'status.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(recorded, 'status.json'), 'utf8')), status: 'interrupted' }));

  // Runs with a symlinked folder or file inside.
  const evalLink = path.join(work, 'runs', 'eval-link');
  copyDir(run, evalLink);
  fs.symlinkSync(path.join(outside, 'sink'), path.join(evalLink, 'evaluation'));
  const modelLink = path.join(work, 'runs', 'model-link');
  copyDir(run, modelLink);
  fs.rmSync(path.join(modelLink, 'model'), { recursive: true });
  fs.symlinkSync(path.join(outside, 'run', 'model'), path.join(modelLink, 'model'));
  const configLink = path.join(work, 'runs', 'config-link');
  copyDir(run, configLink);
  fs.rmSync(path.join(configLink, 'config.json'));
  fs.symlinkSync(path.join(outside, 'run', 'config.json'), path.join(configLink, 'config.json'));
  fs.symlinkSync(path.join(outside, 'run'), path.join(work, 'runs', 'whole-run-link'));
  // The files the trust checks read (calibration, out-of-distribution model) and the model card they write.
  for (const [name, file] of [['calibration-link', 'calibration.json'], ['ood-link', 'ood.json'], ['card-link', 'MODEL_CARD.md']]) {
    const linked = path.join(work, 'runs', name);
    copyDir(run, linked);
    fs.rmSync(path.join(linked, file), { force: true });
    fs.symlinkSync(path.join(outside, 'run', file), path.join(linked, file));
  }

  // Direct paths that are links to outside: an image, a runs folder, a folder to scan.
  fs.symlinkSync(path.join(outside, 'secret.jpeg'), path.join(work, 'link-image.jpeg'));
  fs.symlinkSync(outside, path.join(work, 'runs-link'));
  fs.symlinkSync(path.join(outside, 'data'), path.join(work, 'scan-link'));
  // A run whose meta.json (name, notes, tags) is a link to a file outside.
  fs.writeFileSync(path.join(outside, 'meta.json'), '{"displayName":"outside","notes":"","tags":[]}');
  const metaLink = path.join(work, 'runs', 'meta-link');
  copyDir(run, metaLink);
  fs.rmSync(path.join(metaLink, 'meta.json'), { force: true });
  fs.symlinkSync(path.join(outside, 'meta.json'), path.join(metaLink, 'meta.json'));

  // A weights manifest inside the roots whose shard path leads outside (the model folder of a run, with top-less
  // MobileNetV2 shapes it would not load anyway: the guard must refuse before reading a byte).
  const manifestDir = path.join(work, 'weights');
  fs.mkdirSync(manifestDir);
  fs.copyFileSync(path.join(run, 'model', 'weights.bin'), path.join(outside, 'weights.bin'));
  const manifest = JSON.parse(fs.readFileSync(path.join(run, 'model', 'weights_manifest.json'), 'utf8'));
  manifest[0].paths = [path.relative(manifestDir, path.join(outside, 'weights.bin'))];
  fs.writeFileSync(path.join(manifestDir, 'weights_manifest.json'), JSON.stringify(manifest));
  const absManifestDir = path.join(work, 'weights-abs');
  fs.mkdirSync(absManifestDir);
  manifest[0].paths = [path.join(outside, 'weights.bin')];
  fs.writeFileSync(path.join(absManifestDir, 'weights_manifest.json'), JSON.stringify(manifest));
  // 1000 labels, as the ImageNet top has: the request gets as far as reading the weights.
  fs.writeFileSync(path.join(work, 'labels.txt'), Array.from({ length: 1000 }, (_, i) => `class ${i}`).join('\n') + '\n');
  // A weights folder whose manifest itself is a symlink leading outside.
  fs.mkdirSync(path.join(work, 'weights-linked'));
  fs.symlinkSync(path.join(outside, 'run', 'model', 'weights_manifest.json'), path.join(work, 'weights-linked', 'weights_manifest.json'));
}

interface Case {
  name: string;
  method: string;
  params: (l: Layout) => unknown;
  /** Training: refused with the untrusted-workspace message in Restricted Mode before any path is looked at. */
  training?: boolean;
}

const CASES: Case[] = [
  { name: 'evaluate: CSV row with ../ to an existing file', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: path.join(l.work, 'csv-dotdot-existing', 'labels.csv') }) },
  { name: 'evaluate: CSV row with an absolute path', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: path.join(l.work, 'csv-absolute', 'labels.csv') }) },
  { name: 'evaluate: symlinked image in a folder dataset', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: path.join(l.work, 'ds-image-link') }) },
  { name: 'evaluate: symlinked class folder', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: path.join(l.work, 'ds-class-link') }) },
  { name: 'evaluate: symlinked split folder', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: path.join(l.work, 'ds-split-link') }) },
  { name: 'evaluate: a run whose evaluation/ is a symlink (the write)', method: 'cxr/evaluate', params: (l) => ({ run: path.join(l.work, 'runs', 'eval-link'), data: CI_TINY }) },
  { name: 'evaluate: a run whose model/ is a symlink', method: 'cxr/evaluate', params: (l) => ({ run: path.join(l.work, 'runs', 'model-link'), data: CI_TINY }) },
  { name: 'predict: a run whose model/ is a symlink', method: 'cxr/predict', params: (l) => ({ run: path.join(l.work, 'runs', 'model-link'), files: [IMAGE] }) },
  { name: 'predict: a run whose config.json is a symlink', method: 'cxr/predict', params: (l) => ({ run: path.join(l.work, 'runs', 'config-link'), files: [IMAGE] }) },
  { name: 'predict: a run whose calibration.json is a symlink', method: 'cxr/predict', params: (l) => ({ run: path.join(l.work, 'runs', 'calibration-link'), files: [IMAGE] }) },
  { name: 'predict: a run whose ood.json is a symlink', method: 'cxr/predict', params: (l) => ({ run: path.join(l.work, 'runs', 'ood-link'), files: [IMAGE] }) },
  { name: 'modelCard: a run whose MODEL_CARD.md is a symlink (the write)', method: 'cxr/modelCard', params: (l) => ({ run: path.join(l.work, 'runs', 'card-link') }) },
  { name: 'predict: a run folder that is a symlink', method: 'cxr/predict', params: (l) => ({ run: path.join(l.work, 'runs', 'whole-run-link'), files: [IMAGE] }) },
  { name: 'predict: manifest shard path with ../', method: 'cxr/predict', params: (l) => ({ backbone: 'mobilenet_v2', weights: path.join(l.work, 'weights', 'weights_manifest.json'), labels: path.join(l.work, 'labels.txt'), files: [IMAGE] }) },
  { name: 'predict: manifest shard path absolute', method: 'cxr/predict', params: (l) => ({ backbone: 'mobilenet_v2', weights: path.join(l.work, 'weights-abs'), labels: path.join(l.work, 'labels.txt'), files: [IMAGE] }) },
  { name: 'predict: weights folder whose manifest is a symlink', method: 'cxr/predict', params: (l) => ({ backbone: 'mobilenet_v2', weights: path.join(l.work, 'weights-linked'), labels: path.join(l.work, 'labels.txt'), files: [IMAGE] }) },
  { name: 'explain: a run whose model/ is a symlink', method: 'cxr/explain', params: (l) => ({ run: path.join(l.work, 'runs', 'model-link'), image: IMAGE }) },
  { name: 'explain: output through a symlinked folder', method: 'cxr/explain', params: (l) => ({ run: l.run, image: IMAGE, out: path.join(l.work, 'runs', 'eval-link', 'evaluation', 'o.png') }) },
  { name: 'evaluate: outDir through a symlinked folder', method: 'cxr/evaluate', params: (l) => ({ run: l.run, data: CI_TINY, outDir: path.join(l.work, 'runs', 'eval-link', 'evaluation', 'x') }) },
  { name: 'predict: an image that is a symlink', method: 'cxr/predict', params: (l) => ({ run: l.run, files: [IMAGE, path.join(l.work, 'link-image.jpeg')] }) },
  { name: 'explain: an image that is a symlink', method: 'cxr/explain', params: (l) => ({ run: l.run, image: path.join(l.work, 'link-image.jpeg') }) },
  { name: 'thumbnails: an image that is a symlink', method: 'cxr/thumbnails', params: (l) => ({ files: [IMAGE, path.join(l.work, 'link-image.jpeg')] }) },
  { name: 'shortcutAudit: CSV row with ../', method: 'cxr/shortcutAudit', params: (l) => ({ run: l.run, data: path.join(l.work, 'csv-dotdot-existing', 'labels.csv') }) },
  { name: 'shortcutAudit: a run whose model/ is a symlink', method: 'cxr/shortcutAudit', params: (l) => ({ run: path.join(l.work, 'runs', 'model-link'), data: CI_TINY }) },
  { name: 'exportModel: a run whose model/ is a symlink', method: 'cxr/exportModel', params: (l) => ({ run: path.join(l.work, 'runs', 'model-link'), format: 'onnx' }) },
  { name: 'exportModel: output through a symlinked folder', method: 'cxr/exportModel', params: (l) => ({ run: l.run, format: 'onnx', out: path.join(l.work, 'runs', 'eval-link', 'evaluation', 'm.onnx') }) },
  { name: 'listRuns: a runs folder that is a symlink', method: 'cxr/listRuns', params: (l) => ({ runsRoot: path.join(l.work, 'runs-link') }) },
  { name: 'scanDatasets: a folder to scan that is a symlink', method: 'cxr/scanDatasets', params: (l) => ({ roots: [path.join(l.work, 'scan-link')] }) },
  { name: 'runDetails: a run folder that is a symlink', method: 'cxr/runDetails', params: (l) => ({ runDir: path.join(l.work, 'runs', 'whole-run-link') }) },
  { name: 'updateRunMeta: a run whose config.json is a symlink', method: 'cxr/updateRunMeta', params: (l) => ({ runDir: path.join(l.work, 'runs', 'config-link'), notes: 'x' }) },
  { name: 'auditDataset: CSV row with ../', method: 'cxr/auditDataset', params: (l) => ({ data: path.join(l.work, 'csv-dotdot-existing', 'labels.csv') }) },
  { name: 'auditDataset: symlinked image', method: 'cxr/auditDataset', params: (l) => ({ data: path.join(l.work, 'ds-image-link') }) },
  { name: 'lastAudit: CSV row with ../', method: 'cxr/lastAudit', params: (l) => ({ data: path.join(l.work, 'csv-dotdot-existing', 'labels.csv') }) },
  { name: 'lastAudit: symlinked image', method: 'cxr/lastAudit', params: (l) => ({ data: path.join(l.work, 'ds-image-link') }) },
  { name: 'datasetImages: CSV row with ../', method: 'cxr/datasetImages', params: (l) => ({ dataset: path.join(l.work, 'csv-dotdot-existing', 'labels.csv') }) },
  { name: 'datasetImages: symlinked split folder', method: 'cxr/datasetImages', params: (l) => ({ dataset: path.join(l.work, 'ds-split-link') }) },
  { name: 'runDetails: a run whose config.json is a symlink', method: 'cxr/runDetails', params: (l) => ({ runDir: path.join(l.work, 'runs', 'config-link') }) },
  { name: 'readEvaluation: a run whose evaluation/ is a symlink', method: 'cxr/readEvaluation', params: (l) => ({ runDir: path.join(l.work, 'runs', 'eval-link'), split: 'test' }) },
  { name: 'deleteRun: a run folder that is a symlink', method: 'cxr/deleteRun', params: (l) => ({ runDir: path.join(l.work, 'runs', 'whole-run-link') }) },
  { name: 'train: CSV row with ../', method: 'cxr/train', training: true, params: (l) => ({ data: path.join(l.work, 'csv-dotdot-existing', 'labels.csv'), out: path.join(l.work, 'runs', 'new1'), backbone: 'mobilenet_v2', epochs: 1, imageSize: 32 }) },
  { name: 'train: symlinked class folder', method: 'cxr/train', training: true, params: (l) => ({ data: path.join(l.work, 'ds-class-link'), out: path.join(l.work, 'runs', 'new2'), backbone: 'mobilenet_v2', epochs: 1, imageSize: 32 }) },
  { name: 'train: weights manifest shard outside', method: 'cxr/train', training: true, params: (l) => ({ data: CI_TINY, out: path.join(l.work, 'runs', 'new3'), backbone: 'mobilenet_v2', weights: path.join(l.work, 'weights'), epochs: 1, imageSize: 32 }) },
  { name: 'train: resume a run whose config records an outside dataset', method: 'cxr/train', training: true, params: (l) => ({ out: path.join(l.work, 'runs', 'recorded-outside'), resume: true }) },
  { name: 'train: resume naming an inside dataset, config recording an outside one', method: 'cxr/train', training: true, params: (l) => ({ out: path.join(l.work, 'runs', 'recorded-outside'), data: CI_TINY, backbone: 'mobilenet_v2', resume: true }) },
];

function suite(trusted: boolean): void {
  describe(`indirect path escapes, ${trusted ? 'trusted workspace' : 'Restricted Mode'}`, () => {
    let backend: BackendProcess;
    const layout = {} as Layout;
    const snapshot = (dir: string): string[] => (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
    let outsideBefore: string[];

    before(async () => {
      layout.work = tmpDir('sec-work');
      layout.outside = tmpDir('sec-outside');
      layout.run = await trainRun(layout.work);
      buildEscapes(layout);
      outsideBefore = snapshot(layout.outside);
      backend = await BackendProcess.start({ roots: [layout.work, path.dirname(CI_TINY), MOBILENET_DIR], trusted });
    });

    after(async () => {
      await backend?.stop();
      for (const d of [layout.work, layout.outside]) if (d) fs.rmSync(d, { recursive: true, force: true });
    });

    for (const c of CASES) {
      it(c.name, async () => {
        const err = await expectCxrError(() => backend.conn.sendRequest(c.method, c.params(layout)));
        if (c.training && !trusted) {
          assert.equal(err.details?.untrustedWorkspace, true, err.message);
        } else {
          assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS', `${err.code}: ${err.message}`);
          assert.ok(!err.message.includes(layout.outside), `the message names the outside path: ${err.message}`);
        }
        assert.ok(backend.alive);
      });
    }

    it('the refusal is the same whether the outside file exists or not (CSV row, symlink)', async () => {
      const ask = async (dir: string) => (await expectCxrError(() => backend.conn.sendRequest(protocol.evaluate, { run: layout.run, data: dir })));
      const existing = await ask(path.join(layout.work, 'csv-dotdot-existing', 'labels.csv'));
      const missing = await ask(path.join(layout.work, 'csv-dotdot-missing', 'labels.csv'));
      assert.equal(existing.code, 'OUTSIDE_ALLOWED_ROOTS');
      assert.equal(missing.code, existing.code);
      assert.equal(missing.message, existing.message);
      assert.deepEqual(missing.details, existing.details);
      const linked = await ask(path.join(layout.work, 'ds-image-link'));
      const dangling = await ask(path.join(layout.work, 'ds-dangling-link'));
      assert.equal(linked.code, 'OUTSIDE_ALLOWED_ROOTS');
      assert.equal(dangling.message.replace('ds-dangling-link', 'X'), linked.message.replace('ds-image-link', 'X'));
    });

    it('lists runs without following run folders or config files that lead outside', async () => {
      const runs = await backend.conn.sendRequest(protocol.listRuns, { runsRoot: path.join(layout.work, 'runs') });
      const names = runs.map((r) => r.name).sort();
      assert.ok(names.includes('good'), names.join(','));
      assert.ok(!names.includes('whole-run-link') && !names.includes('config-link'), names.join(','));
    });

    it('scans datasets without reporting ones that lead outside', async () => {
      const found = await backend.conn.sendRequest(protocol.scanDatasets, { roots: [layout.work] });
      const paths = found.map((d) => path.relative(layout.work, d.path));
      for (const bad of ['ds-image-link', 'ds-class-link', 'ds-split-link', path.join('csv-absolute', 'labels.csv')]) {
        assert.ok(!paths.includes(bad), `${bad} listed among ${paths.join(', ')}`);
      }
      assert.ok(paths.includes(path.join('runs', 'good')) === false);
    });

    it('deleteRun refuses a run holding a link that leads outside, and deletes nothing there', async () => {
      const err = await expectCxrError(() => backend.conn.sendRequest(protocol.deleteRun, { runDir: path.join(layout.work, 'runs', 'eval-link') }));
      assert.equal(err.code, 'RUN_INVALID', err.message);
      assert.match(err.message, /nothing was deleted/);
      assert.ok(fs.existsSync(path.join(layout.work, 'runs', 'eval-link', 'config.json')));
      assert.ok(fs.statSync(path.join(layout.outside, 'sink')).isDirectory());
    });

    it('updateRunMeta refuses a meta.json that links outside, and the outside file stays as it was', async () => {
      const before = fs.readFileSync(path.join(layout.outside, 'meta.json'), 'utf8');
      const runDir = path.join(layout.work, 'runs', 'meta-link');
      const err = await expectCxrError(() => backend.conn.sendRequest(protocol.updateRunMeta, { runDir, notes: 'written inside' }));
      assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS', err.message);
      assert.ok(!err.message.includes(layout.outside), err.message);
      assert.equal(fs.readFileSync(path.join(layout.outside, 'meta.json'), 'utf8'), before);
    });

    it('still serves the good run, and wrote nothing outside', async () => {
      const [p] = await backend.conn.sendRequest(protocol.predict, { run: layout.run, files: [IMAGE] });
      assert.ok(['Covid', 'Normal', 'Viral Pneumonia'].includes(p.label));
      const evaluation = await backend.conn.sendRequest(protocol.evaluate, { run: layout.run, data: CI_TINY, outDir: path.join(layout.work, 'eval-ok') });
      assert.equal(evaluation.n, 6);
      assert.deepEqual(snapshot(layout.outside), outsideBefore);
    });
  });
}

suite(true);
suite(false);

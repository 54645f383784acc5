import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { classCounts, loadDataset, type DatasetItem } from '../../server/src/engine/data/dataset';
import { splitTrainVal } from '../../server/src/engine/data/split';
import { CxrError } from '../../server/src/engine/errors';
import { Rng } from '../../server/src/engine/util/rng';
import { CI_TINY, COVID19, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';
import { solidPng, writeTree } from '../fixtures-gen/images';

const scratchDir = scratchDirFactory();

const CLASSES = ['Covid', 'Normal', 'Viral Pneumonia'];

const rejects = rejectsWithCxrError;

/** A folder dataset of tiny PNGs: `layout` maps "train/Covid" to an image count. */
async function folderDataset(layout: Record<string, number>): Promise<string> {
  const root = scratchDir('ds');
  const png = await solidPng(4, 4);
  for (const [dir, n] of Object.entries(layout)) {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    for (let i = 0; i < n; i++) fs.writeFileSync(path.join(root, dir, `img${i}.png`), png);
  }
  return root;
}

describe('loadDataset on the shared data', () => {
  it('reads ci-tiny folders: 3 classes, 12 train / 6 test', async () => {
    const index = await loadDataset(requireShared(CI_TINY));
    assert.equal(index.source, 'folders');
    assert.equal(index.root, path.resolve(CI_TINY));
    assert.deepEqual(index.classes, CLASSES);
    assert.equal(index.items.filter((i) => i.split === 'train').length, 12);
    assert.equal(index.items.filter((i) => i.split === 'test').length, 6);
    for (const name of CLASSES) assert.deepEqual(classCounts(index)[name], { train: 4, test: 2, unassigned: 0 });
    for (const item of index.items) {
      assert.ok(path.isAbsolute(item.path) && fs.existsSync(item.path), item.path);
      assert.equal(index.classes[item.labelIndex], item.label);
      assert.equal(path.basename(path.dirname(item.path)), item.label);
      assert.equal(item.patientId, null);
    }
    assert.deepEqual(index.warnings, []);
  });

  it("reads ci-tiny's labels.csv (columns split,label,file) to the same items", async () => {
    const fromFolders = await loadDataset(CI_TINY);
    const fromCsv = await loadDataset(requireShared(path.join(CI_TINY, 'labels.csv')));
    assert.equal(fromCsv.source, 'csv');
    assert.deepEqual(fromCsv.classes, CLASSES);
    assert.deepEqual(fromCsv.items, fromFolders.items);
  });

  it('reads covid19-dataset: 251 train / 66 test with the known class counts', async () => {
    const index = await loadDataset(requireShared(COVID19));
    assert.deepEqual(index.classes, CLASSES);
    assert.deepEqual(classCounts(index), {
      Covid: { train: 111, test: 26, unassigned: 0 },
      Normal: { train: 70, test: 20, unassigned: 0 },
      'Viral Pneumonia': { train: 70, test: 20, unassigned: 0 },
    });
    assert.equal(index.items.length, 317);
  });
});

describe('loadDataset folder layout rules', () => {
  it('orders classes by code point like Python sorted, not by UTF-16 units', async () => {
    // JavaScript's default sort would put the emoji (a surrogate pair) before U+FFFD.
    const root = await folderDataset({ 'train/b': 1, 'train/B': 1, 'train/a': 1, 'train/\u{1F600}': 1, 'train/\uFFFD': 1 });
    const index = await loadDataset(root);
    assert.deepEqual(index.classes, ['B', 'a', 'b', '\uFFFD', '\u{1F600}']);
    assert.match(index.warnings.join('\n'), /No test\/ folder/);
  });

  it('skips hidden files, reports non-image files, reads class subfolders', async () => {
    const root = await folderDataset({ 'train/A': 2, 'train/B': 2, 'test/A': 1, 'test/B': 1 });
    writeTree(root, {
      'train/A/.DS_Store': 'x',
      'train/A/notes.txt': 'x',
      'train/A/sub/extra.PNG': await solidPng(4, 4),
      'train/readme.md': 'x',
      '.hidden/B/x.png': 'x',
    });
    fs.mkdirSync(path.join(root, 'train', '.cache'));
    const index = await loadDataset(root);
    assert.deepEqual(classCounts(index), { A: { train: 3, test: 1, unassigned: 0 }, B: { train: 2, test: 1, unassigned: 0 } });
    const warnings = index.warnings.join('\n');
    assert.match(warnings, /notes\.txt/);
    assert.match(warnings, /readme\.md/);
    assert.doesNotMatch(warnings, /DS_Store/);
  });

  it('errors: missing path, no train/test, empty class folder, different class sets, single class', async () => {
    await rejects(loadDataset(path.join(scratchDir('ds'), 'nope')), 'NOT_FOUND', /not found/);

    const bare = scratchDir('ds');
    writeTree(bare, { 'labels.csv': 'path,label\n' });
    await rejects(loadDataset(bare), 'DATASET_INVALID', /no train\/ or test\/.*labels\.csv/s);

    const empty = await folderDataset({ 'train/A': 2, 'train/B': 0, 'test/A': 1, 'test/B': 1 });
    writeTree(empty, { 'train/B/readme.txt': 'no images here' });
    await rejects(loadDataset(empty), 'DATASET_INVALID', /train\/B holds no images/);

    const differ = await folderDataset({ 'train/A': 1, 'train/B': 1, 'test/A': 1, 'test/C': 1 });
    await rejects(loadDataset(differ), 'DATASET_INVALID', /only in train\/: B; only in test\/: C/);

    const single = await folderDataset({ 'train/A': 3, 'test/A': 1 });
    await rejects(loadDataset(single), 'DATASET_INVALID', /single class \(A\)/);

    const noClasses = scratchDir('ds');
    fs.mkdirSync(path.join(noClasses, 'train'));
    await rejects(loadDataset(noClasses), 'DATASET_INVALID', /no class folders/);

    const notCsv = path.join(scratchDir('ds'), 'data.json');
    fs.writeFileSync(notCsv, '{}');
    await rejects(loadDataset(notCsv), 'DATASET_INVALID', /not a \.csv/);
  });
});

describe('loadDataset CSV manifests', () => {
  async function csvDataset(csv: string): Promise<string> {
    const root = scratchDir('csv');
    const png = await solidPng(4, 4);
    writeTree(root, { 'img/a1.png': png, 'img/a2.png': png, 'img/b, one.png': png, 'img/b2.png': png, 'img/c1.png': png, 'manifest.csv': csv });
    return path.join(root, 'manifest.csv');
  }

  it('reads path,label,split,patient_id with quoted fields, CRLF, unassigned rows and a BOM', async () => {
    const csv = await csvDataset(
      '\ufeffpath,label,split,patient_id\r\n' +
        'img/a1.png,A,train,P1\r\n' +
        'img/a2.png,A,train,P1\r\n' +
        '"img/b, one.png","B",train,"P2"\r\n' +
        'img/b2.png,B,Test,P3\r\n' +
        '\r\n' +
        'img/c1.png,A,,\r\n',
    );
    const index = await loadDataset(csv);
    assert.equal(index.source, 'csv');
    assert.equal(index.root, csv);
    assert.deepEqual(index.classes, ['A', 'B']);
    const byName = new Map(index.items.map((i) => [path.basename(i.path), i]));
    assert.deepEqual(byName.get('b, one.png'), {
      path: path.join(path.dirname(csv), 'img', 'b, one.png'),
      label: 'B',
      labelIndex: 1,
      split: 'train',
      patientId: 'P2',
    });
    assert.equal(byName.get('a2.png')!.patientId, 'P1');
    assert.equal(byName.get('b2.png')!.split, 'test');
    assert.equal(byName.get('c1.png')!.split, null);
    assert.equal(byName.get('c1.png')!.patientId, null);
    assert.deepEqual(classCounts(index), { A: { train: 2, test: 0, unassigned: 1 }, B: { train: 1, test: 1, unassigned: 0 } });
    assert.match(index.warnings.join('\n'), /no test rows for A/);
  });

  it('warns when a patient has images in both train and test rows', async () => {
    const csv = await csvDataset('path,label,split,patient_id\nimg/a1.png,A,train,P1\nimg/a2.png,A,test,P1\nimg/b2.png,B,train,P2\nimg/c1.png,B,test,P3\n');
    const index = await loadDataset(csv);
    assert.match(index.warnings.join('\n'), /1 patient\(s\) have images in both train and test/);
  });

  it('errors name the line: missing file, unknown split, empty label, wrong field count, open quote', async () => {
    await rejects(loadDataset(await csvDataset('path,label\nimg/a1.png,A\nimg/missing.png,B\n')), 'DATASET_INVALID', /line 3: file not found: img\/missing\.png/);
    await rejects(loadDataset(await csvDataset('path,label,split\nimg/a1.png,A,train\nimg/b2.png,B,val\n')), 'DATASET_INVALID', /line 3 has an unknown split 'val'/);
    await rejects(loadDataset(await csvDataset('path,label\nimg/a1.png,\n')), 'DATASET_INVALID', /line 2 has an empty label/);
    await rejects(loadDataset(await csvDataset('path,label\nimg/a1.png,A,extra\n')), 'DATASET_INVALID', /line 2 has 3 fields/);
    await rejects(loadDataset(await csvDataset('path,label\nimg/a1.png,A\n"img/b2.png,B\n')), 'DATASET_INVALID', /line 3 opens a quoted field/);
  });

  it('errors: no header, zero images, single class, classes differing between splits', async () => {
    await rejects(loadDataset(await csvDataset('img/a1.png,A\nimg/b2.png,B\n')), 'DATASET_INVALID', /header/);
    await rejects(loadDataset(await csvDataset('path,label\n')), 'DATASET_INVALID', /lists no images/);
    await rejects(loadDataset(await csvDataset('file,label\nimg/a1.png,A\nimg/a2.png,A\n')), 'DATASET_INVALID', /single class \(A\)/);
    await rejects(
      loadDataset(await csvDataset('path,label,split\nimg/a1.png,A,train\nimg/a2.png,A,test\nimg/b2.png,B,test\n')),
      'DATASET_INVALID',
      /B appear only in test rows/,
    );
  });

  it('skips non-image rows with a warning', async () => {
    const csv = await csvDataset('path,label\nimg/a1.png,A\nnotes.txt,A\nimg/b2.png,B\n');
    const index = await loadDataset(csv);
    assert.equal(index.items.length, 2);
    assert.match(index.warnings.join('\n'), /line 3: notes\.txt/);
  });
});

describe('splitTrainVal', () => {
  const item = (p: string, label: string, patientId: string | null = null): DatasetItem => ({
    path: `/data/${p}`,
    label,
    labelIndex: label.charCodeAt(0) - 65,
    split: 'train',
    patientId,
  });

  it('stratifies covid19-dataset train by class and keeps train and val disjoint', async () => {
    const index = await loadDataset(requireShared(COVID19));
    const trainItems = index.items.filter((i) => i.split === 'train');
    const { train, val, groupedByPatient } = splitTrainVal(trainItems, { valFraction: 0.2, seed: 42 });
    assert.equal(groupedByPatient, false);
    const count = (list: DatasetItem[], label: string) => list.filter((i) => i.label === label).length;
    assert.deepEqual(CLASSES.map((c) => count(val, c)), [22, 14, 14]); // round(0.2 * [111, 70, 70])
    assert.equal(train.length + val.length, 251);
    const valPaths = new Set(val.map((i) => i.path));
    assert.ok(train.every((i) => !valPaths.has(i.path)));
  });

  it('is deterministic for a seed, independent of input order, and changes with the seed', () => {
    const items = Array.from({ length: 60 }, (_, i) => item(`${String(i).padStart(3, '0')}.png`, 'ABC'[i % 3]));
    const a = splitTrainVal(items, { valFraction: 0.25, seed: 7 });
    const shuffled = new Rng(99).shuffle([...items]);
    const b = splitTrainVal(shuffled, { valFraction: 0.25, seed: 7 });
    assert.deepEqual(b.val.map((i) => i.path), a.val.map((i) => i.path));
    assert.deepEqual(b.train.map((i) => i.path), a.train.map((i) => i.path));
    const c = splitTrainVal(items, { valFraction: 0.25, seed: 8 });
    assert.notDeepEqual(c.val.map((i) => i.path), a.val.map((i) => i.path));
    assert.equal(a.val.length, 15);
  });

  it('never puts one patient on both sides and stratifies patients by their majority label', () => {
    const items: DatasetItem[] = [];
    for (let p = 0; p < 40; p++) {
      const label = p % 2 === 0 ? 'A' : 'B';
      for (let k = 0; k <= p % 4; k++) items.push(item(`p${p}_${k}.png`, k === 3 ? (label === 'A' ? 'B' : 'A') : label, `P${p}`));
    }
    for (const seed of [1, 2, 3, 4, 5]) {
      const { train, val, groupedByPatient } = splitTrainVal(items, { valFraction: 0.3, seed });
      assert.equal(groupedByPatient, true);
      const trainPatients = new Set(train.map((i) => i.patientId));
      assert.ok(val.every((i) => !trainPatients.has(i.patientId)), `seed ${seed}: a patient is on both sides`);
      assert.equal(train.length + val.length, items.length);
      for (const label of ['A', 'B']) assert.ok(val.some((i) => i.label === label) && train.some((i) => i.label === label));
      assert.ok(Math.abs(val.length / items.length - 0.3) < 0.12, `seed ${seed}: val fraction ${val.length / items.length}`);
    }
  });

  it('fraction 0 gives no val; small classes still get one val item; a lone item stays in train', () => {
    const items = [item('a1', 'A'), item('a2', 'A'), ...Array.from({ length: 30 }, (_, i) => item(`b${i}`, 'B')), item('c1', 'C')];
    assert.equal(splitTrainVal(items, { valFraction: 0, seed: 1 }).val.length, 0);
    const { val, train } = splitTrainVal(items, { valFraction: 0.05, seed: 1 });
    assert.equal(val.filter((i) => i.label === 'A').length, 1);
    assert.equal(val.filter((i) => i.label === 'B').length, 2); // round(1.5)
    assert.equal(val.filter((i) => i.label === 'C').length, 0);
    assert.ok(train.some((i) => i.label === 'C'));
    assert.throws(() => splitTrainVal(items, { valFraction: 1, seed: 1 }), (e: unknown) => e instanceof CxrError && e.code === 'INVALID_ARGUMENT');
  });
});

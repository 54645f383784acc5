import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditFinding } from '../../server/src/engine/api';
import { auditDataset, formatFinding } from '../../server/src/engine/audit/auditDataset';
import { renderAuditMarkdown } from '../../server/src/engine/audit/auditReport';
import { NEAR_DUPLICATE_MAX_DISTANCE, NEAR_DUPLICATE_MIN_CORRELATION, thumbnailCorrelation, type ProbedItem } from '../../server/src/engine/audit/duplicates';
import {
  duplicateTotals,
  findDuplicateSets,
  isTrainTestSplits,
  listGroups,
  listPairs,
  MAX_FILES_PER_GROUP,
  MAX_LISTED_PAIRS,
  MAX_PAIRS_PER_SET,
  testFilesWithTrainDuplicate,
} from '../../server/src/engine/audit/duplicateSets';
import { probeImage } from '../../server/src/engine/audit/imageProbe';
import { hammingDistance } from '../../server/src/engine/audit/perceptualHash';
import { loadDataset } from '../../server/src/engine/data/dataset';
import { mapLimit } from '../../server/src/engine/util/concurrency';
import { CI_TINY, COVID19, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();

/** Every pair of items, judged one by one (no index, no grouping): the oracle for the audit's totals. */
function bruteForce(items: ProbedItem[]): { pairs: number; exact: number; near: number; trainTest: number; within: number; conflict: number; testFiles: string[] } {
  const out = { pairs: 0, exact: 0, near: 0, trainTest: 0, within: 0, conflict: 0, testFiles: new Set<string>() };
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const [a, b] = [items[i], items[j]];
      const exact = a.probe.sha256 === b.probe.sha256;
      const near = !exact && hammingDistance(a.probe.hash, b.probe.hash) <= NEAR_DUPLICATE_MAX_DISTANCE && thumbnailCorrelation(a.probe, b.probe) >= NEAR_DUPLICATE_MIN_CORRELATION;
      if (!exact && !near) continue;
      out.pairs++;
      if (exact) out.exact++;
      else out.near++;
      if (isTrainTestSplits(a.split, b.split)) {
        out.trainTest++;
        out.testFiles.add((a.split === 'test' ? a : b).probe.file);
      } else out.within++;
      if (a.label !== b.label) out.conflict++;
    }
  }
  return { ...out, testFiles: [...out.testFiles].sort() };
}

test('audit of a dataset with 68 hard-linked copies of one image: exact totals, capped lists, sets of identical files', async () => {
  const data = path.join(scratch('audit-scale'), 'ds');
  fs.cpSync(requireShared(CI_TINY), data, { recursive: true });
  const original = path.join(data, 'train', 'Normal', '010.jpeg');
  const link = (dir: string, name: string, count: number, from = original): void => {
    for (let k = 0; k < count; k++) fs.linkSync(from, path.join(data, dir, `${name}-${k}.jpeg`));
  };
  link('train/Normal', 'copy', 60);
  link('train/Covid', 'mislabelled', 3); // identical bytes under another label
  link('test/Normal', 'leak', 4); // identical bytes in the test split
  // The 640 px original of ci-tiny's 128 px 010.jpeg (other bytes, a near-duplicate), twice in test.
  const fullSize = path.join(data, 'full-size.jpeg');
  fs.copyFileSync(requireShared(path.join(COVID19, 'train', 'Normal', '010.jpeg')), fullSize);
  link('test/Normal', 'near', 2, fullSize);
  fs.rmSync(fullSize);

  const result = await auditDataset({ data }, { store: null });
  const dataset = await loadDataset(data);
  const items = await mapLimit(dataset.items, 4, async (i) => ({ probe: await probeImage(i.path), label: i.label, split: i.split ?? 'unassigned' }));
  const oracle = bruteForce(items);
  assert.ok(oracle.exact >= (68 * 67) / 2 && oracle.near >= 68 * 2, JSON.stringify({ ...oracle, testFiles: oracle.testFiles.length }));

  const totals = result.duplicateTotals!;
  assert.deepEqual(
    { pairs: totals.pairs, exact: totals.exactPairs, near: totals.nearPairs, trainTest: totals.trainTestPairs, within: totals.withinSplitPairs, conflict: totals.labelConflictPairs },
    { pairs: oracle.pairs, exact: oracle.exact, near: oracle.near, trainTest: oracle.trainTest, within: oracle.within, conflict: oracle.conflict },
  );
  assert.deepEqual(result.testFilesWithTrainDuplicate, oracle.testFiles);
  assert.equal(totals.listedPairs, result.duplicates.length);
  assert.ok(result.duplicates.length < 30, `${result.duplicates.length} pairs listed of ${totals.pairs}`);
  assert.deepEqual(result.duplicates.slice(0, 3).map((p) => isTrainTestSplits(p.a.split, p.b.split)), [true, true, true], 'pairs across train and test listed first');

  const largest = result.duplicateGroups![0];
  assert.equal(largest.count, 68);
  assert.equal(largest.files.length, MAX_FILES_PER_GROUP);
  assert.equal(largest.more, 68 - MAX_FILES_PER_GROUP);
  assert.deepEqual(largest.splits, { train: 64, test: 4 });
  assert.deepEqual([...largest.labels].sort(), ['Covid', 'Normal']);

  const finding = (kind: string, scope?: string): AuditFinding => result.findings.find((f) => f.kind === kind && (scope === undefined || f.details.scope === scope))!;
  const leak = finding('near-duplicate', 'train-test');
  assert.equal(leak.details.pairsTotal, oracle.trainTest);
  assert.match(leak.message, new RegExp(`^${oracle.testFiles.length} test image\\(s\\) .* \\(${oracle.trainTest} pair\\(s\\)\\)`));
  assert.ok((leak.details.pairs as unknown[]).length <= 2 * MAX_PAIRS_PER_SET + 3, 'a few pairs per set of identical files');
  const within = finding('near-duplicate', 'within-split');
  assert.equal(within.details.pairsTotal, oracle.within);
  assert.match(within.message, /Byte-identical files: 2 set\(s\) of 70 files, the largest 68 copies\./);
  const conflict = finding('label-conflict');
  assert.equal(conflict.details.pairsTotal, oracle.conflict);
  for (const p of conflict.details.pairs as { a: { label: string }; b: { label: string } }[]) assert.notEqual(p.a.label, p.b.label);

  const listed = (within.details.pairs as unknown[]).length;
  assert.match(formatFinding(within, data), new RegExp(`\\.\\.\\. and ${oracle.within - listed} more pair\\(s\\)$`));
  const md = renderAuditMarkdown(result);
  assert.match(md, new RegExp(`${result.duplicates.length} of ${oracle.pairs} pairs listed \\(${oracle.trainTest} across train and test`));
  assert.match(md, /\| 68 \| `[^`|]+`(, `[^`|]+`){9} and 58 more \| (Normal, Covid|Covid, Normal) \| train 64, test 4 \|/);
});

test('20,080 replicas of covid19-dataset (80 of each of 251 training images): exact totals from the groups, lists capped, JSON small', async () => {
  const dataset = await loadDataset(requireShared(COVID19));
  const originals = await mapLimit(dataset.items, 4, async (i) => ({ probe: await probeImage(i.path), label: i.label, split: i.split ?? 'unassigned' }));
  const train = originals.filter((o) => o.split === 'train');
  assert.equal(train.length, 251);
  const items: ProbedItem[] = [];
  for (let k = 0; k < 80; k++) for (const o of train) items.push({ ...o, probe: { ...o.probe, file: `${o.probe.file}#${k}` } });
  items.push(...originals.filter((o) => o.split === 'test'));
  assert.equal(items.length, 20_080 + 66);

  const started = performance.now();
  const sets = findDuplicateSets(items);
  const trainTestList = listPairs(sets, 'train-test');
  const withinList = listPairs(sets, 'within-split');
  const listed = [...trainTestList, ...withinList].slice(0, MAX_LISTED_PAIRS);
  const totals = duplicateTotals(sets, listed.length);
  const groups = listGroups(sets);
  const testFiles = testFilesWithTrainDuplicate(sets);
  const ms = performance.now() - started;

  // The oracle: count items per content and split, and judge every pair of distinct contents one by one.
  const perContent = new Map<string, { item: ProbedItem; train: number; test: number }>();
  for (const it of items) {
    const c = perContent.get(it.probe.sha256) ?? { item: it, train: 0, test: 0 };
    if (it.split === 'train') c.train++;
    else c.test++;
    perContent.set(it.probe.sha256, c);
  }
  const contents = [...perContent.values()];
  const c2 = (n: number) => (n * (n - 1)) / 2;
  let exact = 0;
  let trainTest = 0;
  for (const c of contents) {
    exact += c2(c.train + c.test);
    trainTest += c.train * c.test;
  }
  let near = 0;
  for (let i = 0; i < contents.length; i++) {
    for (let j = i + 1; j < contents.length; j++) {
      const [a, b] = [contents[i], contents[j]];
      if (hammingDistance(a.item.probe.hash, b.item.probe.hash) > NEAR_DUPLICATE_MAX_DISTANCE) continue;
      if (thumbnailCorrelation(a.item.probe, b.item.probe) < NEAR_DUPLICATE_MIN_CORRELATION) continue;
      near += (a.train + a.test) * (b.train + b.test);
      trainTest += a.train * b.test + a.test * b.train;
    }
  }
  assert.ok(exact > 790_000, `${exact} byte-identical pairs`);
  assert.equal(totals.exactPairs, exact);
  assert.equal(totals.nearPairs, near);
  assert.equal(totals.pairs, exact + near);
  assert.equal(totals.trainTestPairs, trainTest);
  assert.equal(totals.withinSplitPairs, exact + near - trainTest);
  assert.equal(listed.length, MAX_LISTED_PAIRS);
  assert.equal(groups.length, 50);
  assert.ok(groups[0].count >= 80 && groups.every((g) => g.files.length <= MAX_FILES_PER_GROUP && g.count === g.files.length + g.more));
  const json = JSON.stringify({ listed, totals, groups, testFiles });
  assert.ok(json.length < 150_000, `${json.length} characters of JSON`);
  process.stdout.write(`# 20,146 items: groups, totals and lists in ${ms.toFixed(0)} ms, ${json.length} characters of JSON (${totals.pairs} pairs)\n`);
});

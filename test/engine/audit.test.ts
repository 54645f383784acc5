import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditDuplicatePair, AuditFinding } from '../../server/src/engine/api';
import { auditDataset } from '../../server/src/engine/audit/auditDataset';
import { candidatePartners, NEAR_DUPLICATE_MAX_DISTANCE, thumbnailCorrelation, NEAR_DUPLICATE_MIN_CORRELATION } from '../../server/src/engine/audit/duplicates';
import { probeImage } from '../../server/src/engine/audit/imageProbe';
import { hammingDistance } from '../../server/src/engine/audit/perceptualHash';
import { dataDir } from '../../server/src/engine/locations';
import { CI_TINY, COVID19, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');

test('perceptual hash: a resized grey copy stays within the threshold, a different X-ray does not', async () => {
  // ci-tiny holds 128 x 128 8-bit grey re-encodings of covid19-dataset images (640 x 640 RGB).
  const original = await probeImage(requireShared(path.join(COVID19, 'train', 'Normal', '010.jpeg')));
  const copy = await probeImage(requireShared(path.join(CI_TINY, 'train', 'Normal', '010.jpeg')));
  const other = await probeImage(path.join(COVID19, 'train', 'Normal', '011.jpeg'));
  assert.ok(hammingDistance(original.hash, copy.hash) <= NEAR_DUPLICATE_MAX_DISTANCE, `copy: ${hammingDistance(original.hash, copy.hash)} bits`);
  assert.ok(thumbnailCorrelation(original, copy) >= NEAR_DUPLICATE_MIN_CORRELATION);
  assert.ok(thumbnailCorrelation(original, other) < NEAR_DUPLICATE_MIN_CORRELATION, `other: r=${thumbnailCorrelation(original, other)}`);
  assert.notEqual(original.sha256, copy.sha256);
});

test('near-duplicate candidates: the banded index finds every pair within the distance a full scan finds, in its order', () => {
  // Seeded random 64-bit hashes, plus copies of some of them with 0 to 12 bits flipped (around the threshold).
  let state = 12345;
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const hashes: Uint8Array[] = Array.from({ length: 400 }, () => Uint8Array.from({ length: 64 }, () => (random() < 0.5 ? 1 : 0)));
  for (let k = 0; k < 300; k++) {
    const copy = Uint8Array.from(hashes[Math.floor(random() * 400)]);
    const flips = k % 13;
    for (let f = 0; f < flips; f++) copy[Math.floor(random() * 64)] ^= 1;
    hashes.push(copy);
  }
  // The hardest case: exactly the threshold, one flipped bit in as many places across the hash as possible.
  for (let k = 0; k < 20; k++) {
    const copy = Uint8Array.from(hashes[k]);
    for (let f = 0; f < NEAR_DUPLICATE_MAX_DISTANCE; f++) copy[Math.floor((f * 64) / NEAR_DUPLICATE_MAX_DISTANCE)] ^= 1;
    hashes.push(copy);
  }
  const partners = candidatePartners(hashes, NEAR_DUPLICATE_MAX_DISTANCE);
  const indexed: string[] = [];
  const scanned: string[] = [];
  let candidates = 0;
  for (let i = 0; i < hashes.length; i++) {
    const found = partners(i);
    candidates += found.length;
    for (const j of found) if (hammingDistance(hashes[i], hashes[j]) <= NEAR_DUPLICATE_MAX_DISTANCE) indexed.push(`${i}-${j}`);
    for (let j = i + 1; j < hashes.length; j++) if (hammingDistance(hashes[i], hashes[j]) <= NEAR_DUPLICATE_MAX_DISTANCE) scanned.push(`${i}-${j}`);
  }
  assert.ok(scanned.length > 150, `the planted pairs within ${NEAR_DUPLICATE_MAX_DISTANCE} bits: ${scanned.length}`);
  assert.deepEqual(indexed, scanned);
  const allPairs = (hashes.length * (hashes.length - 1)) / 2;
  assert.ok(candidates < allPairs / 4, `the index compared ${candidates} of ${allPairs} pairs`);
});

test('covid19-dataset: the audit names the cross-split near-duplicates and flags the source confound', async () => {
  const result = await auditDataset({ data: requireShared(COVID19) });
  assert.equal(result.images, 317);
  const rel = (f: string) => path.relative(COVID19, f);

  const leak = result.findings.find((f) => f.kind === 'near-duplicate' && f.details.scope === 'train-test');
  assert.ok(leak, 'a train-test near-duplicate finding');
  assert.equal(leak.severity, 'critical');
  const pairs = (leak.details.pairs as AuditDuplicatePair[]).map((p) => [rel(p.a.file), rel(p.b.file)].join(' ~ '));
  // Byte-identical files in both splits, and a re-encoded copy (different bytes) of a training image.
  assert.ok(pairs.includes('train/Covid/COVID-00003b.jpg ~ test/Covid/COVID-00003b.jpg'), pairs.join('\n'));
  assert.ok(pairs.includes('train/Covid/090.jpeg ~ test/Covid/0112.jpg'), pairs.join('\n'));
  assert.ok(result.testFilesWithTrainDuplicate.map(rel).includes('test/Covid/0112.jpg'));
  assert.ok(result.testFilesWithTrainDuplicate.length >= 9, `${result.testFilesWithTrainDuplicate.length}`);
  for (const p of leak.details.pairs as AuditDuplicatePair[]) assert.notEqual(p.a.split, p.b.split);

  const confound = result.findings.find((f) => f.kind === 'source-confound');
  assert.ok(confound && result.confound);
  assert.equal(confound.severity, 'critical');
  assert.ok(result.confound.accuracyCi.low > result.confound.majorityRate + 0.15, JSON.stringify(result.confound));
  assert.match(confound.message, /acquisition properties alone .* accuracy \(95% CI/);
  assertWellFormed(result.findings);
});

test('a CSV manifest: patient overlap, a label typed twice, a duplicate row and an unreadable file become findings', async () => {
  const dir = scratch('audit-csv');
  const img = (split: string, cls: string, f: string) => path.join(requireShared(CI_TINY), split, cls, f);
  const broken = path.join(dir, 'broken.png');
  fs.writeFileSync(broken, fs.readFileSync(img('train', 'Covid', '010.png')).subarray(0, 200));
  const rows = [
    'path,label,split,patient_id',
    `${img('train', 'Covid', '01.jpeg')},Covid,train,p1`,
    `${img('train', 'Covid', '012.jpeg')},covid,train,p2`,
    `${img('train', 'Covid', '015.jpg')},Covid,train,p3`,
    `${img('test', 'Covid', '0102.jpeg')},Covid,test,p1`,
    `${img('train', 'Normal', '01.jpeg')},Normal,train,p4`,
    `${img('train', 'Normal', '010.jpeg')},Normal,train,p5`,
    `${img('train', 'Normal', '010.jpeg')},Normal,train,p5`,
    `${img('test', 'Normal', '0101.jpeg')},Normal,test,p6`,
    `${broken},Normal,train,p7`,
  ];
  const csv = path.join(dir, 'labels.csv');
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const result = await auditDataset({ data: csv });
  const kinds = (k: string) => result.findings.filter((f) => f.kind === k);
  assert.equal(kinds('patient-overlap')[0].severity, 'critical');
  assert.match(kinds('patient-overlap')[0].message, /1 patient\(s\) have images in both train and test/);
  assert.deepEqual(kinds('label-variant')[0].details.labels, ['Covid', 'covid']);
  assert.ok(kinds('loader-warning').some((f) => /duplicate of line 7/.test(f.message)), JSON.stringify(kinds('loader-warning')));
  const unreadable = kinds('unreadable-image')[0];
  assert.equal((unreadable.details.files as { file: string }[])[0].file, broken);
  assertWellFormed(result.findings);
});

test('cxr audit --json prints the findings list; a missing dataset exits 1 with a typed error', () => {
  const ok = spawnSync(process.execPath, [BIN, 'audit', requireShared(CI_TINY), '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(ok.status, 0, ok.stderr);
  const result = JSON.parse(ok.stdout);
  assert.equal(result.images, 18);
  assertWellFormed(result.findings);
  assert.ok(result.findings.some((f: AuditFinding) => f.kind === 'class-balance'));
  const missing = spawnSync(process.execPath, [BIN, 'audit', path.join(dataDir(), 'no-such-dataset'), '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(missing.status, 1);
  assert.equal(JSON.parse(missing.stdout).error.code, 'NOT_FOUND');
});

function assertWellFormed(findings: AuditFinding[]): void {
  assert.ok(findings.length > 0);
  const rank = { critical: 0, warning: 1, info: 2 };
  for (const [i, f] of findings.entries()) {
    assert.ok(['info', 'warning', 'critical'].includes(f.severity));
    assert.ok(f.message.length > 20 && typeof f.details === 'object', JSON.stringify(f));
    if (i > 0) assert.ok(rank[findings[i - 1].severity] <= rank[f.severity], 'sorted by severity');
  }
}

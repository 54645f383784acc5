import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { AuditResult } from '../../server/src/engine/api';
import { auditDataset } from '../../server/src/engine/audit/auditDataset';
import { probeImage } from '../../server/src/engine/audit/imageProbe';
import { cacheInfo } from '../../server/src/engine/cache/featureCache';
import { ProbeCache } from '../../server/src/engine/cache/probeCache';
import { decodeCount } from '../../server/src/engine/data/decode';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();

/** ci-tiny's 18 images copied to a folder this test may change. */
function datasetCopy(): string {
  const dir = path.join(scratch('audit-cache-data'), 'ds');
  fs.cpSync(requireShared(CI_TINY), dir, { recursive: true });
  return dir;
}

/** Audits and counts the images decoded meanwhile. */
async function audited(data: string, cache: ProbeCache): Promise<{ result: AuditResult; decoded: number }> {
  const before = decodeCount();
  const result = await auditDataset({ data }, { store: cache });
  return { result, decoded: decodeCount() - before };
}

function findingsOnly(r: AuditResult): unknown {
  const { seconds: _s, probes: _p, ...rest } = r;
  return rest;
}

test('audit cache: a second audit of the same files decodes nothing and finds exactly the same', async () => {
  const data = datasetCopy();
  const dir = scratch('audit-cache');
  const first = await audited(data, new ProbeCache(dir));
  assert.equal(first.result.images, 18);
  assert.equal(first.decoded, 18);
  assert.deepEqual(first.result.probes, { fromCache: 0, decoded: 18 });
  assert.equal(cacheInfo(dir).auditRecords, 18);

  const second = await audited(data, new ProbeCache(dir));
  assert.equal(second.decoded, 0, 'every record came from the cache');
  assert.deepEqual(second.result.probes, { fromCache: 18, decoded: 0 });
  assert.deepEqual(findingsOnly(second.result), findingsOnly(first.result));

  // Each cached record is the fresh measurement, bit for bit (thumbnail floats, hash bits, statistics).
  for (const file of [path.join(data, 'train', 'Covid', '010.png'), path.join(data, 'test', 'Normal', '0101.jpeg')]) {
    assert.deepEqual(await probeImage(file, new ProbeCache(dir)), await probeImage(file, null));
  }
});

test('audit cache: changed bytes are probed again, the same bytes under another name are not, a damaged record is redone', async () => {
  const data = datasetCopy();
  const dir = scratch('audit-cache');
  await audited(data, new ProbeCache(dir));
  const changed = path.join(data, 'train', 'Normal', '011.jpeg');
  const stale = await probeImage(changed, null);
  fs.writeFileSync(changed, await sharp(fs.readFileSync(changed)).flop().jpeg({ quality: 90 }).toBuffer());

  const afterChange = await audited(data, new ProbeCache(dir));
  assert.equal(afterChange.decoded, 1, 'only the changed file is decoded');
  const fresh = await probeImage(changed, null);
  assert.notEqual(fresh.sha256, stale.sha256);
  assert.notDeepEqual(fresh.hash, stale.hash, 'a mirrored image has another perceptual hash');
  assert.deepEqual(await probeImage(changed, new ProbeCache(dir)), fresh, 'the cache now answers with the new content');

  // A byte-identical copy under a new name: known content, no decode, and the audit pairs the two files.
  const copy = path.join(data, 'train', 'Normal', '099.jpeg');
  fs.copyFileSync(path.join(data, 'train', 'Normal', '010.jpeg'), copy);
  const withCopy = await audited(data, new ProbeCache(dir));
  assert.equal(withCopy.decoded, 0);
  assert.ok(withCopy.result.duplicates.some((p) => p.exact && [p.a.file, p.b.file].includes(copy)), JSON.stringify(withCopy.result.duplicates));

  // A record cut short on disk reads as missing: that one image is decoded again, and the result does not change.
  const records = fs.readdirSync(path.join(dir, 'audit'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const victim = path.join(records[0].parentPath, records[0].name);
  fs.writeFileSync(victim, fs.readFileSync(victim, 'utf8').slice(0, 40));
  const repaired = await audited(data, new ProbeCache(dir));
  assert.equal(repaired.decoded, 1);
  assert.deepEqual(findingsOnly(repaired.result), findingsOnly(withCopy.result));
});

/**
 * Measures the perceptual-hash distances that justify the audit's near-duplicate threshold, on real data:
 *  - same image, different copies: covid19-dataset-originals (original resolution and encoding) against the
 *    640 x 640 re-encoded copies in covid19-dataset, and ci-tiny (8-bit grey, 128 x 128) against the same copies;
 *  - different images: every pair of distinct files in covid19-dataset (some are near-duplicates; the low tail shows them).
 * Usage: CXR_SHARED_DIR=/work/shared node --import tsx scripts/audit-hash-threshold.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset } from '../server/src/engine/data/dataset';
import { dataDir } from '../server/src/engine/locations';
import { hammingDistance } from '../server/src/engine/audit/perceptualHash';
import { probeImage, type ImageProbe } from '../server/src/engine/audit/imageProbe';
import {
  findDuplicatePairs,
  NEAR_DUPLICATE_MAX_DISTANCE,
  NEAR_DUPLICATE_MIN_CORRELATION,
  thumbnailCorrelation,
} from '../server/src/engine/audit/duplicates';

async function main(): Promise<void> {
  const covid = path.join(dataDir(), 'covid19-dataset');
  const dataset = await loadDataset(covid);
  const probes = new Map<string, ImageProbe>();
  for (const item of dataset.items) probes.set(path.relative(covid, item.path), await probeImage(item.path));

  const copies: { set: string; d: number; r: number }[] = [];
  for (const other of ['covid19-dataset-originals', 'ci-tiny']) {
    const root = path.join(dataDir(), other);
    for (const rel of walk(root)) {
      const twin = probes.get(rel);
      if (!twin) continue;
      const copy = await probeImage(path.join(root, rel));
      copies.push({ set: other, d: hammingDistance(copy.hash, twin.hash), r: thumbnailCorrelation(copy, twin) });
    }
  }
  const list = [...probes.values()];
  const distinct: number[] = [];
  let maxCorrelationFar = -1;
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const d = hammingDistance(list[i].hash, list[j].hash);
      distinct.push(d);
      if (d > NEAR_DUPLICATE_MAX_DISTANCE - 1 && d <= 14) maxCorrelationFar = Math.max(maxCorrelationFar, thumbnailCorrelation(list[i], list[j]));
    }
  }
  distinct.sort((a, b) => a - b);

  const copyD = copies.map((c) => c.d).sort((a, b) => a - b);
  const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  console.log(`copies of one image (${copies.length} pairs: ${summary(copies)}): hash distance max ${copyD.at(-1)}, median ${q(copyD, 0.5)}; ` +
    `thumbnail correlation min ${Math.min(...copies.map((c) => c.r)).toFixed(4)}`);
  console.log(`distinct files of covid19-dataset (${distinct.length} pairs): min ${distinct[0]}, 0.1th pct ${q(distinct, 0.001)}, 1st pct ${q(distinct, 0.01)}, median ${q(distinct, 0.5)}`);
  const hist = new Map<number, number>();
  for (const d of distinct) if (d <= 24) hist.set(d, (hist.get(d) ?? 0) + 1);
  console.log(`distinct pairs at distance d (d <= 24): ${[...hist].map(([d, n]) => `${d}:${n}`).join(' ')}`);
  console.log(`highest thumbnail correlation of distinct pairs ${NEAR_DUPLICATE_MAX_DISTANCE}-14 bits apart: ${maxCorrelationFar.toFixed(4)}`);
  const items = dataset.items.map((it) => ({ probe: probes.get(path.relative(covid, it.path))!, label: it.label, split: it.split ?? 'unassigned' }));
  const pairs = findDuplicatePairs(items);
  console.log(`rule in use: distance <= ${NEAR_DUPLICATE_MAX_DISTANCE} and correlation >= ${NEAR_DUPLICATE_MIN_CORRELATION}: ` +
    `${pairs.length} pairs flagged (${pairs.filter((p) => p.exact).length} byte-identical), ${pairs.filter((p) => p.a.split !== p.b.split).length} across train/test`);
  for (const p of pairs) console.log(`  d=${p.distance} r=${p.correlation.toFixed(3)} ${path.relative(covid, p.a.probe.file)} ~ ${path.relative(covid, p.b.probe.file)}`);
}

function summary(copies: { set: string }[]): string {
  const sets = [...new Set(copies.map((c) => c.set))];
  return sets.map((s) => `${copies.filter((c) => c.set === s).length} ${s}`).join(', ');
}

function walk(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

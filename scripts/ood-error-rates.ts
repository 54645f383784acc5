/**
 * Error rates of the out-of-distribution checks on everything in ../shared.
 *  (a) "not a chest radiograph": every image file under data/ is an X-ray except dicom-samples/nhsx-nccid/sample.dcm
 *      (an abdominal scout); the photos are models/mobilenet_v2_imagenet/samples/*.jpg.
 *  (b) "unlike the training images", when a run folder is given: the share flagged per folder.
 * Usage: CXR_SHARED_DIR=/work/shared node --import tsx scripts/ood-error-rates.ts [run]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeImage } from '../server/src/engine/data/decode';
import { Engine } from '../server/src/engine/engine';
import { dataDir, modelsDir } from '../server/src/engine/locations';
import { checkChestRadiograph } from '../server/src/engine/ood/chestCheck';

const NOT_XRAY = new Set(['dicom-samples/nhsx-nccid/sample.dcm']);

async function main(): Promise<void> {
  const images = (root: string) =>
    (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => /\.(png|jpe?g|dcm|webp|tiff?|gif)$/i.test(f)).sort().map((f) => path.join(root, f));
  const xrays = images(dataDir()).filter((f) => !NOT_XRAY.has(path.relative(dataDir(), f)));
  const others = [...images(dataDir()).filter((f) => NOT_XRAY.has(path.relative(dataDir(), f))), ...images(path.join(modelsDir(), 'mobilenet_v2_imagenet', 'samples'))];
  const check = async (f: string) => checkChestRadiograph(await decodeImage(f, 64));
  const falseAlarms: string[] = [];
  for (const f of xrays) if ((await check(f)).reason) falseAlarms.push(path.relative(dataDir(), f));
  const caught: string[] = [];
  const missed: string[] = [];
  for (const f of others) ((await check(f)).reason ? caught : missed).push(path.basename(f));
  console.log(`(a) not a chest radiograph: ${falseAlarms.length} of ${xrays.length} X-rays in ${dataDir()} flagged${falseAlarms.length ? `: ${falseAlarms.join(', ')}` : ''}`);
  console.log(`    ${caught.length} of ${others.length} non-X-rays flagged (${caught.join(', ')})${missed.length ? `; missed: ${missed.join(', ')}` : ''}`);

  const run = process.argv[2];
  if (!run) return;
  const engine = new Engine();
  const byFolder = new Map<string, { n: number; flagged: number; notChest: number }>();
  const files = [...xrays, ...others];
  for (let i = 0; i < files.length; i += 32) {
    const predictions = await engine.predict({ run, files: files.slice(i, i + 32) });
    for (const p of predictions) {
      const folder = path.relative(path.dirname(dataDir()), path.dirname(p.file)).split(path.sep).slice(0, 3).join('/');
      const row = byFolder.get(folder) ?? { n: 0, flagged: 0, notChest: 0 };
      row.n++;
      if (p.ood?.flagged) row.flagged++;
      if (p.ood?.notChestRadiograph) row.notChest++;
      byFolder.set(folder, row);
    }
  }
  console.log(`(b) with run ${run}: flagged (either reason) / not-a-chest-radiograph / images, per folder`);
  for (const [folder, r] of [...byFolder].sort()) console.log(`    ${folder}: ${r.flagged} / ${r.notChest} / ${r.n}`);
  engine.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

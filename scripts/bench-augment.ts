/**
 * Augmentation speed, moved out of the unit tests (a time limit there flakes on a busy machine): augmentImage on a
 * real 224 x 224 X-ray with strong parameters, against decoding the same file (sharp) in the same run as the baseline.
 * Run: node --import tsx scripts/bench-augment.ts [iterations]
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { augmentImage } from '../server/src/engine/data/augment';
import { decodeImage } from '../server/src/engine/data/decode';
import { dataDir } from '../server/src/engine/locations';
import { Rng } from '../server/src/engine/util/rng';

const STRONG = { rotationDeg: 30, widthShift: 0.2, heightShift: 0.2, zoom: 0.3 };

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 50);
  const file = path.join(dataDir(), 'covid19-dataset', 'train', 'Normal', '01.jpeg');
  const img = (await decodeImage(file, 224)).data;
  const rng = new Rng(1);
  augmentImage(img, 224, STRONG, rng); // warm-up
  let t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) augmentImage(img, 224, STRONG, rng);
  const augmentMs = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) await decodeImage(file, 224);
  const decodeMs = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg()[0].toFixed(1)}`);
  console.log(`augmentImage (224 x 224, strong): ${augmentMs.toFixed(2)} ms per image`);
  console.log(`baseline, decode + resize the same file: ${decodeMs.toFixed(2)} ms per image`);
  console.log(`ratio augment / decode: ${(augmentMs / decodeMs).toFixed(2)}`);
}

void main();

/**
 * Fuzz of the one image decoder (server/src/engine/data/decode.ts): thousands of mutated PNG, JPEG and DICOM byte
 * strings, seeded (CXR_FUZZ_SEED reproduces a run; CXR_FUZZ_CASES changes the count). Every case must end, within
 * 10 s, either in a proper image (32 x 32 RGB, finite values in [0, 1]) or in a CxrError with a decoding code and a
 * one-line message; memory must stay bounded and no tfjs tensor may be left.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../server/src/engine/backend/select';
import { decodeImageBuffer } from '../../server/src/engine/data/decode';
import { CxrError } from '../../server/src/engine/errors';
import { buildDicom } from '../fixtures-gen/dicom';
import { FuzzRng, fuzzSeed, mutateBytes } from '../helpers/fuzz';
import { CI_TINY, DICOM_SAMPLES, requireShared } from '../helpers/shared';

const SEED = fuzzSeed(20261130);
const CASES = Number(process.env.CXR_FUZZ_CASES ?? 3600);
const SIZE = 32;
const DECODE_CODES = new Set(['CORRUPT_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE']);

interface Seed {
  name: string;
  bytes: Buffer;
  /** Share of the cases (the real JPEG-in-DICOM decodes a 1024 px frame: fewer of those). */
  weight: number;
}

let seeds: Seed[] = [];

before(async () => {
  requireShared(CI_TINY);
  requireShared(DICOM_SAMPLES);
  await initBackend({});
  const xray = path.join(CI_TINY, 'train', 'Covid', '010.png');
  const small = sharp(xray).resize(48, 40);
  const pixels16 = new Uint16Array(24 * 20).map((_, i) => (i * 37) % 4096);
  seeds = [
    { name: 'xray.png', bytes: await small.clone().greyscale().png().toBuffer(), weight: 3 },
    { name: 'xray16.png', bytes: await sharp(Buffer.from(pixels16.buffer), { raw: { width: 24, height: 20, channels: 1 } }).toColourspace('grey16').png().toBuffer(), weight: 2 },
    { name: 'xray.jpeg', bytes: await small.clone().jpeg({ quality: 80 }).withMetadata({ orientation: 6 }).toBuffer(), weight: 3 },
    { name: 'xray-progressive.jpg', bytes: await small.clone().jpeg({ quality: 70, progressive: true }).toBuffer(), weight: 2 },
    { name: 'ct12.dcm', bytes: buildDicom({ rows: 20, cols: 24, bitsAllocated: 16, bitsStored: 12, pixels: pixels16, slope: 1, intercept: -1024, windowCenter: 40, windowWidth: 400 }), weight: 3 },
    { name: 'mono1.dcm', bytes: buildDicom({ rows: 16, cols: 16, bitsAllocated: 8, photometric: 'MONOCHROME1', pixels: new Uint8Array(256).map((_, i) => i) }), weight: 2 },
    { name: 'jpeg-in-dicom.dcm', bytes: fs.readFileSync(path.join(DICOM_SAMPLES, 'kaggle-img2dcm', 'Covid_0102.dcm')), weight: 1 },
  ];
});

it(`${CASES} mutated PNG, JPEG and DICOM files: an image or a typed error each, no hang, bounded memory, no tensors (seed ${SEED})`, async () => {
  const rng = new FuzzRng(SEED);
  const tensors = tf.memory().numTensors;
  const rssStart = process.memoryUsage().rss;
  let rssMax = rssStart;
  const failures: string[] = [];
  const outcomes = new Map<string, number>();
  const bag = seeds.flatMap((s) => Array<Seed>(s.weight).fill(s));
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const seed = rng.pick(bag);
    const { bytes, ops } = mutateBytes(seed.bytes, rng, seed.name.endsWith('.dcm') ? 1024 : 256);
    const problem = await checkOne(bytes, seed.name, (outcome) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1));
    if (problem) {
      const file = path.join(os.tmpdir(), `cxr-fuzz-${SEED}-${i}-${seed.name}`);
      fs.writeFileSync(file, bytes);
      failures.push(`case ${i} (${seed.name}: ${ops.join(', ')}; bytes in ${file}): ${problem}`);
    }
    if (i % 100 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
  assert.deepEqual(failures, [], `seed ${SEED}; rerun with CXR_FUZZ_SEED=${SEED}`);
  // The mutations must reach both outcomes, or the fuzz tests nothing.
  const decoded = outcomes.get('decoded') ?? 0;
  assert.ok(decoded > CASES / 20 && decoded < CASES * 0.95, `outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  const growthMiB = (rssMax - rssStart) / 2 ** 20;
  assert.ok(growthMiB < 768, `resident memory grew by ${growthMiB.toFixed(0)} MiB`);
  assert.equal(tf.memory().numTensors, tensors, 'tensors left behind');
});

/** Null when the outcome is acceptable, else what is wrong. */
async function checkOne(bytes: Buffer, name: string, count: (outcome: string) => void): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), 10_000)));
  try {
    const result = await Promise.race([decodeImageBuffer(bytes, SIZE, name), hang]);
    if (result === 'hang') return 'no answer within 10 s';
    const { data } = result;
    if (data.length !== SIZE * SIZE * 3) return `decoded to ${data.length} values`;
    for (const v of data) if (!(v >= 0 && v <= 1)) return `decoded value ${v} outside [0, 1]`;
    count('decoded');
    return null;
  } catch (e) {
    if (!(e instanceof CxrError)) return `threw ${e instanceof Error ? e.stack : String(e)}`;
    if (!DECODE_CODES.has(e.code)) return `CxrError ${e.code}: ${e.message}`;
    if (/\n|\[object Object\]|undefined/.test(e.message)) return `unclear message: ${JSON.stringify(e.message)}`;
    count(e.code);
    return null;
  } finally {
    clearTimeout(timer);
  }
}

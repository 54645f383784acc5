import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, decodeImageBuffer } from '../../server/src/engine/data/decode';
import { CxrError } from '../../server/src/engine/errors';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';
import { truncated } from '../fixtures-gen/images';

/**
 * Damaged images made at test time from real ci-tiny files: each is refused with CORRUPT_IMAGE, a message that says
 * what is wrong in the user's terms (truncated, damaged pixels, damaged header) and what to do, and no word of the
 * decoder's own (libvips/libjpeg/libspng names, sharp's "failOn" advice), which stays in the error's diagnostic for
 * the log.
 */
const scratch = scratchDirFactory();
const JPEG = path.join(CI_TINY, 'train', 'Covid', '01.jpeg');
const PNG = path.join(CI_TINY, 'train', 'Covid', '010.png');

/** Decoder and library wording that must not reach the user. */
const LEAK = /failOn|vips|spng|libjpeg|libpng|libwebp|libtiff|_buffer|sharp|Corrupt JPEG data|extraneous|marker 0x|IDAT|IHDR|\bEOF\b/i;

const MESSAGES = {
  truncated: /is truncated: its data ends before the image does .*Copy it again from its source, or remove it\.$/,
  'damaged-data': /is damaged: its compressed pixels do not decode cleanly\. Copy or export it again from its source, or remove it\.$/,
  'damaged-header': /has a damaged header, so the image's size and layout cannot be read\./,
} as const;

async function refusal(run: () => Promise<unknown>): Promise<CxrError> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof CxrError, `not a CxrError: ${String(e)}`);
    return e;
  }
  assert.fail('the damaged image decoded');
}

async function expectProblem(bytes: Buffer, name: string, problem: keyof typeof MESSAGES, kind: string): Promise<void> {
  const e = await refusal(() => decodeImageBuffer(bytes, 64, name));
  assert.equal(e.code, 'CORRUPT_IMAGE', `${name}: ${e.message}`);
  assert.ok(e.message.startsWith(`${name}: the ${kind} `), e.message);
  assert.match(e.message, MESSAGES[problem], `${name}`);
  assert.doesNotMatch(e.message, LEAK, `${name}: decoder wording in the message`);
  assert.deepEqual(e.details, { file: name, problem }, `${name}: details`);
  // The decoder's own words are kept for the log, with the file's name.
  assert.ok(e.diagnostic && e.diagnostic.startsWith(`${name}: ${kind} decoder: `) && e.diagnostic.length > `${name}: ${kind} decoder: `.length, `${name}: diagnostic ${e.diagnostic}`);
}

/** The PNG's chunks, to damage one of them on purpose. */
function pngChunkOffset(png: Buffer, type: string): number {
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === type) return at;
    at += 12 + length;
  }
  throw new Error(`no ${type} chunk`);
}

describe('decoding damaged real images: clear CORRUPT_IMAGE messages, decoder wording only in the diagnostic', () => {
  it('a JPEG and a PNG cut short (at 30 % and at 95 %) are "truncated"', async () => {
    for (const [file, kind] of [[JPEG, 'JPEG file'], [PNG, 'PNG file']] as const) {
      const bytes = fs.readFileSync(requireShared(file));
      for (const fraction of [0.3, 0.95]) await expectProblem(truncated(bytes, fraction), `cut-${fraction}-${path.basename(file)}`, 'truncated', kind);
    }
  });

  it('a JPEG whose entropy-coded data is garbled (the bytes libjpeg reports as "Corrupt JPEG data") is "damaged"', async () => {
    const garbled = Buffer.from(fs.readFileSync(requireShared(JPEG)));
    for (let i = Math.floor(garbled.length / 3); i < Math.floor(garbled.length / 3) + 200; i++) garbled[i] ^= 0x5a;
    await expectProblem(garbled, 'garbled.jpeg', 'damaged-data', 'JPEG file');
  });

  it('a PNG whose compressed pixel data (IDAT) is garbled is "damaged"', async () => {
    const png = Buffer.from(fs.readFileSync(requireShared(PNG)));
    const idat = pngChunkOffset(png, 'IDAT');
    for (let i = idat + 8 + 20; i < idat + 8 + 220; i++) png[i] ^= 0x5a;
    await expectProblem(png, 'garbled.png', 'damaged-data', 'PNG file');
  });

  it('a PNG whose header chunk (IHDR) is garbled has a "damaged header"', async () => {
    const png = Buffer.from(fs.readFileSync(requireShared(PNG)));
    const ihdr = pngChunkOffset(png, 'IHDR');
    png[ihdr + 8 + 8] = 7; // bit depth 7 does not exist
    await expectProblem(png, 'header.png', 'damaged-header', 'PNG file');
  });

  it('WebP, TIFF and GIF made from a ci-tiny image and cut short are "truncated"', async () => {
    const source = sharp(requireShared(PNG));
    const encoded: [string, string, Buffer][] = [
      ['webp', 'WEBP file', await source.clone().webp({ quality: 90 }).toBuffer()],
      ['tiff', 'TIFF file', await source.clone().tiff({ compression: 'lzw' }).toBuffer()],
      ['gif', 'GIF file', await source.clone().gif().toBuffer()],
    ];
    for (const [ext, kind, bytes] of encoded) await expectProblem(truncated(bytes, 0.5), `cut.${ext}`, 'truncated', kind);
  });

  it('the same message for a damaged file read from disk', async () => {
    const dir = scratch('decode-errors');
    const file = path.join(dir, 'cut.png');
    fs.writeFileSync(file, truncated(fs.readFileSync(requireShared(PNG)), 0.5));
    const e = await refusal(() => decodeImage(file, 64));
    assert.equal(e.code, 'CORRUPT_IMAGE');
    assert.match(e.message, /^cut\.png: the PNG file is truncated: /);
    assert.doesNotMatch(e.message, LEAK);
  });
});

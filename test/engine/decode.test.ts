import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeImage, decodeImageBuffer, type DecodedImage } from '../../server/src/engine/data/decode';
import { CxrError } from '../../server/src/engine/errors';
import { CI_TINY, COVID19, DICOM_SAMPLES, MOBILENET_SAMPLES, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';
import { dataDir } from '../../server/src/engine/locations';
import { buildDicom } from '../fixtures-gen/dicom';
import { grey16Png, jpegWithOrientation, pngWithHugeHeader, rawPng, truncated, writeTree } from '../fixtures-gen/images';

const scratchDir = scratchDirFactory();

const TINY_JPEG = path.join(CI_TINY, 'train', 'Covid', '01.jpeg');
const TINY_PNG = path.join(CI_TINY, 'train', 'Covid', '010.png');

const rejects = rejectsWithCxrError;

function pixel(img: DecodedImage, row: number, col: number): number[] {
  const i = (row * img.width + col) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

function assertClose(actual: number[], expected: number[], tol: number, what: string): void {
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `${what}: got [${actual}], expected [${expected}]`));
}

describe('decodeImage on real files', () => {
  it('decodes a ci-tiny JPEG and PNG to size x size RGB in [0, 1], grey replicated', async () => {
    for (const file of [requireShared(TINY_JPEG), requireShared(TINY_PNG)]) {
      const img = await decodeImage(file, 224);
      assert.equal(img.width, 224);
      assert.equal(img.height, 224);
      assert.equal(img.data.length, 224 * 224 * 3);
      let min = 1;
      let max = 0;
      for (let i = 0; i < img.data.length; i += 3) {
        assert.ok(img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2], `${file}: grey input must give R = G = B`);
        min = Math.min(min, img.data[i]);
        max = Math.max(max, img.data[i]);
      }
      assert.ok(min >= 0 && max <= 1 && max - min > 0.5, `${file}: range [${min}, ${max}]`);
      assert.deepEqual(img.source, { format: file.endsWith('png') ? 'png' : 'jpeg', width: 128, height: 128, channels: 1, bitDepth: 8 });
    }
  });

  it('decodes a 640x640 covid19-dataset JPEG; the buffer API gives the same pixels', async () => {
    const file = requireShared(path.join(COVID19, 'train', 'Covid', '01.jpeg'));
    const a = await decodeImage(file, 224);
    const b = await decodeImageBuffer(fs.readFileSync(file), 224, '01.jpeg');
    assert.equal(a.source.width, 640);
    assert.equal(a.source.height, 640);
    assert.deepEqual(a.data, b.data);
  });

  it('reads WebP, TIFF, GIF and 16-bit RGB PNG, detected from the bytes', async () => {
    const sharp = (await import('sharp')).default;
    const rgb = { r: 200, g: 100, b: 50 };
    const base = () => sharp({ create: { width: 8, height: 8, channels: 3, background: rgb } });
    const cases: [string, Buffer, number][] = [
      ['webp', await base().webp({ lossless: true }).toBuffer(), 8],
      ['tiff', await base().tiff().toBuffer(), 8],
      ['png', await sharp(new Uint16Array(8 * 8 * 3).map((_, i) => [rgb.r, rgb.g, rgb.b][i % 3] * 257), { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer(), 16],
      ['gif', await base().gif().toBuffer(), 8],
    ];
    for (const [format, bytes, bitDepth] of cases) {
      const img = await decodeImageBuffer(bytes, 4, 'no-extension');
      assert.equal(img.source.format, format);
      assert.equal(img.source.bitDepth, bitDepth, format);
      assertClose(pixel(img, 2, 2), [200 / 255, 100 / 255, 50 / 255], 3 / 255, format);
    }
  });

  it('detects the format from the bytes: a PNG named .jpg decodes as PNG', async () => {
    const file = path.join(scratchDir('dec'), 'really-a-png.jpg');
    fs.copyFileSync(requireShared(TINY_PNG), file);
    const img = await decodeImage(file, 32);
    assert.equal(img.source.format, 'png');
    assert.deepEqual(img.data, (await decodeImage(TINY_PNG, 32)).data);
  });

  it('resizes with an antialiasing linear filter: 1-pixel stripes average to grey when halved', async () => {
    const w = 64;
    const stripes = new Uint8Array(w * w).map((_, i) => (i % 2 === 0 ? 0 : 255));
    const img = await decodeImageBuffer(await rawPng(stripes, w, w, 1), 32, 'stripes.png');
    // Nearest-neighbour would give all 0 or all 1. The outermost columns see the edge extension, so skip them.
    for (let r = 0; r < 32; r++) {
      for (let c = 1; c < 31; c++) assert.ok(Math.abs(pixel(img, r, c)[0] - 0.5) < 0.05, `value ${pixel(img, r, c)[0]} at (${r}, ${c})`);
    }
  });
});

describe('decodeImage pixel handling', () => {
  it('keeps 16-bit precision: values differing only in the low byte decode to different floats', async () => {
    const values = new Uint16Array(16).map((_, i) => 0x8000 + i);
    const img = await decodeImageBuffer(await grey16Png(values, 4, 4), 4, 'grey16.png');
    assert.equal(img.source.bitDepth, 16);
    assert.equal(img.source.channels, 1);
    const decoded = Array.from({ length: 16 }, (_, i) => img.data[i * 3]);
    assert.equal(new Set(decoded).size, 16, `decoded: ${decoded}`);
    decoded.forEach((v, i) => assert.ok(Math.abs(v - values[i] / 65535) < 1e-7, `${v} vs ${values[i] / 65535}`));
  });

  it('applies the EXIF orientation (6: turn 90 degrees clockwise to display)', async () => {
    // Stored 64 wide x 32 high: left half white, right half black. Displayed: 32 wide x 64 high, top half white.
    const w = 64;
    const h = 32;
    const stored = new Uint8Array(w * h * 3).map((_, i) => (Math.floor(i / 3) % w < w / 2 ? 255 : 0));
    const jpeg = await jpegWithOrientation(stored, w, h, 6);
    const img = await decodeImageBuffer(jpeg, 32, 'rotated.jpg');
    assert.equal(img.source.orientation, 6);
    assert.equal(img.source.width, 32);
    assert.equal(img.source.height, 64);
    assertClose(pixel(img, 4, 16), [1, 1, 1], 0.05, 'top is white');
    assertClose(pixel(img, 27, 16), [0, 0, 0], 0.05, 'bottom is black');
    const plain = await decodeImageBuffer(await jpegWithOrientation(stored, w, h, 1), 32, 'upright.jpg');
    assertClose(pixel(plain, 16, 4), [1, 1, 1], 0.05, 'unrotated left is white');
    assertClose(pixel(plain, 4, 27), [0, 0, 0], 0.05, 'unrotated right is black');
  });

  it('flattens alpha on black: opaque keeps its colour, transparent becomes black, half-transparent halves', async () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    for (let p = 0; p < 16; p++) {
      const col = p % 4;
      rgba.set(col < 2 ? [255, 0, 0, 255] : col === 2 ? [0, 255, 0, 0] : [0, 0, 255, 128], p * 4);
    }
    const img = await decodeImageBuffer(await rawPng(rgba, 4, 4, 4), 4, 'rgba.png');
    assert.equal(img.source.channels, 4);
    assertClose(pixel(img, 1, 0), [1, 0, 0], 1e-6, 'opaque red');
    assertClose(pixel(img, 1, 2), [0, 0, 0], 1e-6, 'transparent green');
    assertClose(pixel(img, 1, 3), [0, 0, 128 / 255], 2 / 255, 'half-transparent blue');
  });

  it('replicates grey and grey+alpha to RGB with exact 8-bit values', async () => {
    const grey = new Uint8Array([0, 1, 2, 254, 255, 100, 50, 25, 12]);
    const img = await decodeImageBuffer(await rawPng(grey, 3, 3, 1), 3, 'grey.png');
    grey.forEach((v, i) => assert.deepEqual(pixel(img, Math.floor(i / 3), i % 3), [v / 255, v / 255, v / 255].map(Math.fround)));
    const greyAlpha = new Uint8Array([200, 255, 200, 0, 10, 255, 10, 255]);
    const ga = await decodeImageBuffer(await rawPng(greyAlpha, 2, 2, 2), 2, 'grey-alpha.png');
    assertClose(pixel(ga, 0, 0), [200 / 255, 200 / 255, 200 / 255], 1e-6, 'opaque grey');
    assertClose(pixel(ga, 0, 1), [0, 0, 0], 1e-6, 'transparent grey');
  });
});

describe('decodeImage errors', () => {
  it('NOT_FOUND for a missing file, NOT_A_FILE for a folder, INVALID_ARGUMENT for a bad size', async () => {
    const dir = scratchDir('dec');
    await rejects(decodeImage(path.join(dir, 'missing.png'), 224), 'NOT_FOUND', /not found/);
    await rejects(decodeImage(dir, 224), 'NOT_A_FILE', /is a folder/);
    await rejects(decodeImage(TINY_PNG, 0), 'INVALID_ARGUMENT', /size/);
  });

  it('UNSUPPORTED_FORMAT says what the file looks like', async () => {
    const dir = scratchDir('dec');
    writeTree(dir, {
      'notes.png': 'These are my notes about the patient, not an image.\n',
      'page.jpg': '<!DOCTYPE html><html><body>404</body></html>',
      'scan.png': Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]),
      'empty.png': Buffer.alloc(0),
      'doc.jpeg': Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'),
    });
    await rejects(decodeImage(path.join(dir, 'notes.png'), 64), 'UNSUPPORTED_FORMAT', /notes\.png .*looks like a text file/);
    await rejects(decodeImage(path.join(dir, 'page.jpg'), 64), 'UNSUPPORTED_FORMAT', /HTML page/);
    await rejects(decodeImage(path.join(dir, 'scan.png'), 64), 'UNSUPPORTED_FORMAT', /BMP image/);
    await rejects(decodeImage(path.join(dir, 'empty.png'), 64), 'UNSUPPORTED_FORMAT', /empty file/);
    await rejects(decodeImage(path.join(dir, 'doc.jpeg'), 64), 'UNSUPPORTED_FORMAT', /PDF document/);
  });

  it('CORRUPT_IMAGE for truncated JPEG and PNG files cut from real ones', async () => {
    for (const file of [TINY_JPEG, TINY_PNG]) {
      const bytes = fs.readFileSync(requireShared(file));
      for (const fraction of [0.3, 0.95]) {
        await rejects(decodeImageBuffer(truncated(bytes, fraction), 64, path.basename(file)), 'CORRUPT_IMAGE', /file is truncated: /);
      }
    }
  });

  it("CORRUPT_IMAGE for garbled JPEG data with the default failOn 'warning'; 'truncated' lets it through", async () => {
    const garbled = Buffer.from(fs.readFileSync(requireShared(TINY_JPEG)));
    for (let i = Math.floor(garbled.length / 3); i < Math.floor(garbled.length / 3) + 200; i++) garbled[i] ^= 0x5a;
    await rejects(decodeImageBuffer(garbled, 64, 'garbled.jpeg'), 'CORRUPT_IMAGE', /JPEG file is damaged: /);
    const lenient = await decodeImageBuffer(garbled, 64, 'garbled.jpeg', { failOn: 'truncated' });
    assert.equal(lenient.data.length, 64 * 64 * 3);
  });

  it('IMAGE_TOO_LARGE from the header alone, before any pixel is allocated; the limit is configurable', async () => {
    const bomb = pngWithHugeHeader(100_000, 100_000); // 10 gigapixels: 30 GB if decoded
    const rssBefore = process.memoryUsage().rss;
    // Memory, not time, shows that no pixel was decoded (a time limit flakes on a busy machine).
    await rejects(decodeImageBuffer(bomb, 224, 'bomb.png'), 'IMAGE_TOO_LARGE', /100000 x 100000 pixels.*over the 64\.0 MP limit/);
    assert.ok(process.memoryUsage().rss - rssBefore < 200e6, 'memory grew by more than 200 MB');
    await rejects(decodeImage(TINY_PNG, 64, { maxInputPixels: 100 * 100 }), 'IMAGE_TOO_LARGE', /128 x 128/);
    assert.equal((await decodeImage(TINY_PNG, 64, { maxInputPixels: 128 * 128 })).data.length, 64 * 64 * 3);
  });
});

const ORIGINALS = path.join(dataDir(), 'covid19-dataset-originals', 'test');

function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length / 3;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i * 3]), (mb += b[i * 3]);
  ma /= n;
  mb /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i * 3] - ma;
    const y = b[i * 3] - mb;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

function greyValues(img: DecodedImage): number[] {
  return Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 3]);
}

describe('decodeImage on DICOM', () => {
  it('JPEG-baseline encapsulated DICOM decodes to exactly the pixels of the JPEG it was made from', async () => {
    const pairs: [string, string][] = [
      ['Covid_0102.dcm', 'Covid/0102.jpeg'],
      ['Viral_Pneumonia_0101.dcm', 'Viral Pneumonia/0101.jpeg'],
    ];
    for (const [dcm, jpeg] of pairs) {
      const fromDicom = await decodeImage(requireShared(path.join(DICOM_SAMPLES, 'kaggle-img2dcm', dcm)), 224);
      const fromJpeg = await decodeImage(requireShared(path.join(ORIGINALS, jpeg)), 224);
      assert.equal(fromDicom.source.format, 'dicom');
      assert.equal(fromDicom.source.width, fromJpeg.source.width);
      assert.deepEqual(fromDicom.data, fromJpeg.data);
    }
  });

  it('12-bit MONOCHROME1 uncompressed DICOM: inverted and windowed, it matches the source image (r > 0.999)', async () => {
    const img = await decodeImage(requireShared(path.join(DICOM_SAMPLES, 'kaggle-img2dcm', 'Covid_0102_MONOCHROME1_12bit.dcm')), 224);
    assert.deepEqual(img.source, {
      format: 'dicom', width: 1118, height: 1333, channels: 1, bitDepth: 16, dicom: { modality: 'DX', bodyPart: 'CHEST', viewPosition: 'PA' },
    });
    const reference = await decodeImage(path.join(ORIGINALS, 'Covid/0102.jpeg'), 224);
    const r = correlation(img.data, reference.data);
    assert.ok(r > 0.999, `correlation ${r} (about -1 would mean MONOCHROME1 was not inverted)`);
  });

  it('8-bit MONOCHROME2 chest X-ray (implicit VR) decodes, stretched min-max without a window', async () => {
    const file = requireShared(path.join(DICOM_SAMPLES, 'nhsx-nccid', '1.3.6.1.4.1.11129.5.5.110503645592756492463169821050252582267888.dcm'));
    const img = await decodeImage(file, 224);
    assert.deepEqual(img.source, { format: 'dicom', width: 1024, height: 1024, channels: 1, bitDepth: 8, dicom: { modality: 'DX' } });
    const grey = greyValues(img);
    assert.ok(Math.min(...grey) < 0.01 && Math.max(...grey) > 0.9, `range [${Math.min(...grey)}, ${Math.max(...grey)}]`);
    assert.ok(img.data.every((v, i) => i % 3 !== 0 || (v === img.data[i + 1] && v === img.data[i + 2])));
  });

  it("reads a bare .dcm data set (no preamble, no 'DICM', implicit VR) like the full file", async () => {
    const file = requireShared(path.join(DICOM_SAMPLES, 'nhsx-nccid', 'sample.dcm'));
    const full = fs.readFileSync(file);
    const metaLength = full.readUInt32LE(132 + 8); // (0002,0000) UL, explicit VR: 8-byte header then the value
    const bare = full.subarray(132 + 12 + metaLength);
    assert.notEqual(bare.toString('latin1', 128, 132), 'DICM');
    assert.deepEqual((await decodeImageBuffer(bare, 64, 'bare.dcm')).data, (await decodeImage(file, 64)).data);
  });

  it('applies RescaleSlope/Intercept and a linear VOI window exactly', async () => {
    const dcm = buildDicom({
      rows: 2, cols: 2, bitsAllocated: 16, bitsStored: 12,
      pixels: new Uint16Array([500, 800, 1000, 1200]), slope: 2, intercept: -1000, windowCenter: 1000, windowWidth: 2001,
    });
    const img = await decodeImageBuffer(dcm, 2, 'window.dcm');
    // modality values 0, 600, 1000, 1400; y = (x - (c - 0.5)) / (w - 1) + 0.5
    assertClose(greyValues(img), [0.00025, 0.30025, 0.50025, 0.70025], 2e-5, 'windowed');
    assert.equal(img.source.bitDepth, 16);
  });

  it('MONOCHROME1 without a window: min-max then inverted', async () => {
    const dcm = buildDicom({ rows: 2, cols: 2, bitsAllocated: 8, photometric: 'MONOCHROME1', pixels: new Uint8Array([10, 20, 30, 50]) });
    assertClose(greyValues(await decodeImageBuffer(dcm, 2, 'mono1.dcm')), [1, 0.75, 0.5, 0], 2e-5, 'inverted');
  });

  it('signed 12-bit values in 16-bit words: masked to BitsStored and sign-extended', async () => {
    // -2048, -1, 0, 2047 with junk in the 4 unused high bits of two of the words.
    const dcm = buildDicom({
      rows: 2, cols: 2, bitsAllocated: 16, bitsStored: 12, pixelRepresentation: 1,
      pixels: new Uint16Array([0xf800, 0x0fff, 0xf000, 0x07ff]),
    });
    assertClose(greyValues(await decodeImageBuffer(dcm, 2, 'signed.dcm')), [0, 2047 / 4095, 2048 / 4095, 1], 2e-5, 'signed');
  });

  it('errors: unsupported compression, no pixel data, truncated, too large, not DICOM; no patient data in messages', async () => {
    const who = { patientName: 'DOE^JANE', patientId: 'MRN-123456' };
    const base = { rows: 2, cols: 2, bitsAllocated: 16 as const, pixels: new Uint16Array([1, 2, 3, 4]), ...who };
    const errors: CxrError[] = [];
    const expect = async (buf: Buffer, name: string, code: string, message: RegExp) => {
      try {
        await decodeImageBuffer(buf, 8, name);
        assert.fail(`${name} decoded`);
      } catch (e) {
        assert.ok(e instanceof CxrError, String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.message, message);
        errors.push(e);
      }
    };
    await expect(buildDicom({ ...base, transferSyntax: '1.2.840.10008.1.2.4.90' }), 'j2k.dcm', 'UNSUPPORTED_FORMAT', /JPEG 2000 \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90\)/);
    await expect(buildDicom({ ...base, pixels: undefined }), 'report.dcm', 'UNSUPPORTED_FORMAT', /without an image/);
    const full = buildDicom({ ...base, rows: 64, cols: 64, pixels: new Uint16Array(64 * 64) });
    await expect(full.subarray(0, full.length - 100), 'cut.dcm', 'CORRUPT_IMAGE', /truncated|does not parse/);
    await expect(buildDicom({ ...base, rows: 65535, cols: 65535 }), 'huge.dcm', 'IMAGE_TOO_LARGE', /65535 x 65535/);
    await expect(Buffer.from('patient list: DOE^JANE\n'), 'notes.dcm', 'UNSUPPORTED_FORMAT', /notes\.dcm is not an image this tool reads: it looks like a text file/);
    await expect(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x01, 0x02, 0x03, 0x04]), 'junk.dcm', 'UNSUPPORTED_FORMAT', /neither a DICOM file/);
    for (const e of errors.slice(0, 4)) {
      const text = e.message + JSON.stringify(e.details ?? {});
      assert.doesNotMatch(text, /DOE|JANE|MRN-123456/, `patient data leaked: ${text}`);
    }
  });
});

test("fit 'own' keeps the image's own size and aspect, shrunk only beyond the given size (full-size heatmap exports)", async () => {
  const cat = requireShared(path.join(MOBILENET_SAMPLES, 'cat.jpg'));
  const own = await decodeImage(cat, 4096, { fit: 'own' });
  assert.deepEqual([own.width, own.height, own.data.length], [512, 341, 512 * 341 * 3]);
  const shrunk = await decodeImage(cat, 256, { fit: 'own' });
  assert.deepEqual([shrunk.width, shrunk.height, shrunk.data.length], [256, 171, 256 * 171 * 3]);
  const square = await decodeImage(cat, 224);
  assert.deepEqual([square.width, square.height], [224, 224]);
});


/**
 * The requests behind the training form and the image views, on the real backend process: every backbone's recipe
 * defaults with freeze points that the engine can really cut at, and small thumbnails (DICOM included) that never
 * carry the full image; bad input gets a typed error and the backend lives on.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as protocol from '../../common/src/protocol';
import { CI_TINY, DICOM_SAMPLES, requireShared } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

describe('backend process: training options and thumbnails', () => {
  let backend: BackendProcess;
  const dataRoot = path.dirname(requireShared(CI_TINY));
  const dicomRoot = requireShared(DICOM_SAMPLES);

  before(async () => {
    backend = await BackendProcess.start({ roots: [dataRoot, dicomRoot] });
  });

  after(async () => {
    await backend?.stop();
  });

  it("offers every backbone with its recipe's defaults and the block boundaries it can be frozen at", async () => {
    const options = await backend.conn.sendRequest(protocol.trainingOptions, {});
    assert.deepEqual(options.backbones.map((b) => b.backbone), [...protocol.BACKBONE_IDS]);
    assert.equal(options.valFraction, 0.1);
    assert.equal(options.seed, 42);
    assert.equal(options.batchNorm, 'inference');
    const mnv2 = options.backbones.find((b) => b.backbone === 'mobilenet_v2')!;
    assert.deepEqual(mnv2.recipe, { epochs: 20, batchSize: 32, learningRate: 3e-3, momentum: 0.9, augment: null });
    assert.equal(mnv2.defaultFreezeAt, 'out_relu');
    assert.deepEqual(mnv2.augmentWhenOn, { rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 });
    // Inside a residual block (block_2_expand feeds an add with block_1's output) is no freeze point; its add is.
    assert.ok(mnv2.freezePoints.includes('out_relu') && mnv2.freezePoints.includes('block_2_add'), mnv2.freezePoints.join(' '));
    assert.ok(!mnv2.freezePoints.includes('block_2_expand'));
    const vgg = options.backbones.find((b) => b.backbone === 'vgg16')!;
    assert.equal(vgg.defaultFreezeAt, 'block3_pool');
    assert.deepEqual(vgg.recipe.augment, { rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 });
    // A plain chain: every layer after the input is a freeze point.
    assert.equal(vgg.freezePoints[0], 'block1_conv1');
    assert.equal(vgg.freezePoints.at(-1), 'block5_pool');
    assert.equal(vgg.freezePoints.length, 18);
  });

  it('makes small JPEG thumbnails of PNG, JPEG and DICOM files, and says which file could not be read', async () => {
    const dicom = 'Covid_0102.dcm';
    const files = [path.join(CI_TINY, 'test', 'Covid', '0105.png'), path.join(CI_TINY, 'test', 'Covid', '0102.jpeg'), path.join(dicomRoot, 'kaggle-img2dcm', dicom), path.join(CI_TINY, 'labels.csv')];
    const thumbs = await backend.conn.sendRequest(protocol.thumbnails, { files, size: 64 });
    assert.deepEqual(thumbs.map((t) => t.file), files);
    for (const t of thumbs.slice(0, 3)) {
      assert.match(t.dataUrl ?? '', /^data:image\/jpeg;base64,/);
      const bytes = Buffer.from(t.dataUrl!.split(',')[1], 'base64');
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 64, 64]);
      assert.ok(bytes.length < 8000, `${bytes.length} bytes`);
      const stats = await sharp(bytes).stats();
      assert.ok(stats.channels[0].stdev > 5, 'the thumbnail shows a picture, not a flat tile');
    }
    assert.equal(thumbs[3].dataUrl, null);
    assert.match(thumbs[3].error ?? '', /labels\.csv/);
  });

  it('refuses files outside the roots, too many files and a bad size', async () => {
    assert.equal((await expectCxrError(() => backend.conn.sendRequest(protocol.thumbnails, { files: ['/etc/passwd'] }))).code, 'OUTSIDE_ALLOWED_ROOTS');
    const many = Array.from({ length: 201 }, () => path.join(CI_TINY, 'test', 'Covid', '0105.png'));
    assert.equal((await expectCxrError(() => backend.conn.sendRequest(protocol.thumbnails, { files: many }))).code, 'INVALID_ARGUMENT');
    assert.equal((await expectCxrError(() => backend.conn.sendRequest(protocol.thumbnails, { files: [], size: 4096 }))).code, 'INVALID_ARGUMENT');
    assert.ok(backend.alive);
  });
});

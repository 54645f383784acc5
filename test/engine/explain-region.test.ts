/**
 * The heatmap a user gets (engine.explain on a run folder: decode from disk, the run's backbone and head, CAM or
 * Grad-CAM, upsampling, jet overlay, PNG export) lands on the evidence: a real run whose head is set so that one
 * known patch of a synthetic image drives the class (see helpers/knownEvidence.ts).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { Engine } from '../../server/src/engine/engine';
import {
  buildEvidenceRun, EVIDENCE_IMAGE_SIZE, EVIDENCE_PATCH, EVIDENCE_TARGET, growBox, hotCentroid, inBox, writeEvidenceImage,
} from '../helpers/knownEvidence';
import { scratchDirFactory } from '../helpers/scratch';
import { MOBILENET_SAMPLES, requireShared } from '../helpers/shared';

const scratch = scratchDirFactory();
const engine = new Engine();
/**
 * The feature map is 5 x 5 cells of 64 px, and the cells next to the patch see it too (MobileNetV2's receptive
 * fields are wide): the heat may spread up to one cell around it. A transposed map would be red bottom-left, a
 * flipped one top-left or bottom-right: far outside.
 */
const NEAR_PATCH = growBox(EVIDENCE_PATCH, 40);
const AROUND_PATCH = growBox(EVIDENCE_PATCH, 64);

describe('heatmaps on an image whose evidence is known', () => {
  let dir: string;
  let run: string;
  let image: string;

  before(async () => {
    dir = scratch('explain-region');
    run = path.join(dir, 'run');
    image = path.join(dir, 'evidence.png');
    await writeEvidenceImage(image);
    await buildEvidenceRun(run, image, engine);
  });

  for (const method of ['cam', 'gradcam'] as const) {
    it(`${method}: the map peaks on the patch and the exported overlay is red there`, async () => {
      const out = path.join(dir, `${method}.png`);
      const r = await engine.explain({ run, image, out, method });
      assert.equal(r.predicted, EVIDENCE_TARGET);
      assert.equal(r.target, EVIDENCE_TARGET);
      assert.equal(r.overlayPath, out);

      // The map itself: its hottest cell is one of the patch's cells.
      const { width, height, data } = r.heatmap;
      const peak = data.indexOf(Math.max(...data));
      const cellY = (Math.floor(peak / width) + 0.5) * (EVIDENCE_IMAGE_SIZE / height);
      const cellX = ((peak % width) + 0.5) * (EVIDENCE_IMAGE_SIZE / width);
      assert.ok(inBox(EVIDENCE_PATCH, cellY, cellX), `peak at cell ${Math.floor(peak / width)},${peak % width} of ${height} x ${width}: ${Array.from(data, (v) => v.toFixed(2)).join(' ')}`);

      // The exported PNG: the reddest pixels sit on the patch, at the run's input size.
      const meta = await sharp(out).metadata();
      assert.equal(meta.format, 'png');
      const hot = await hotCentroid(out);
      const scale = EVIDENCE_IMAGE_SIZE / hot.width;
      const inside = hot.hot.filter((p) => inBox(AROUND_PATCH, p.y * scale, p.x * scale)).length / hot.hot.length;
      const where = `red centroid at ${(hot.x * scale).toFixed(0)},${(hot.y * scale).toFixed(0)} px, ${(inside * 100).toFixed(0)}% of the reddest pixels within a cell of the patch ${JSON.stringify(EVIDENCE_PATCH)}`;
      console.log(`${method}: ${where}`);
      assert.ok(inBox(NEAR_PATCH, hot.y * scale, hot.x * scale), where);
      assert.ok(inside > 0.75, where);
    });
  }

  it('overlayAtImageSize: the overlay is rendered on the image\'s own pixels at its own size, red on the patch', async () => {
    const out = path.join(dir, 'full-size.png');
    await engine.explain({ run, image, out, method: 'cam', overlayAtImageSize: true });
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [EVIDENCE_IMAGE_SIZE, EVIDENCE_IMAGE_SIZE], 'the image is 320 px, the model 160');
    const hot = await hotCentroid(out);
    const inside = hot.hot.filter((p) => inBox(AROUND_PATCH, p.y, p.x)).length / hot.hot.length;
    const where = `red centroid at ${hot.x.toFixed(0)},${hot.y.toFixed(0)} px, ${(inside * 100).toFixed(0)}% of the reddest pixels within a cell of the patch`;
    assert.ok(inBox(NEAR_PATCH, hot.y, hot.x), where);
    assert.ok(inside > 0.75, where);
    // A non-square photo keeps its own size and aspect: 512 x 341.
    const photo = path.join(dir, 'photo.png');
    await engine.explain({ run, image: requireShared(path.join(MOBILENET_SAMPLES, 'cat.jpg')), out: photo, overlayAtImageSize: true });
    const photoMeta = await sharp(photo).metadata();
    assert.deepEqual([photoMeta.width, photoMeta.height], [512, 341]);
  });

  it('a class with no evidence (zero weights) gets a flat map rather than one on the patch', async () => {
    const r = await engine.explain({ run, image, method: 'cam', className: 'Covid' });
    assert.equal(r.target, 'Covid');
    const spread = Math.max(...r.heatmap.data) - Math.min(...r.heatmap.data);
    assert.ok(spread < 1e-6, `Covid's map varies by ${spread}`);
  });
});

/**
 * A trained run whose evidence is known by construction, for checking that heatmaps land where they should.
 *
 * The image: a flat grey square with one black-and-white checkerboard patch near its top-right corner (a transposed
 * map would put it bottom-left, a flipped one in an empty corner). The run: MobileNetV2 with ImageNet weights trained
 * for one epoch on ci-tiny (a real run folder), whose head is then set by hand: the target class's Dense column is the
 * difference between the mean feature vector of the patch's cells and that of the other cells, so its score comes
 * from the patch; a bias makes it the predicted class; the other classes get zero weights.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { decodeImage } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { loadRunModel } from '../../server/src/engine/inference/runModel';
import { HEAD_DENSE_LAYER } from '../../server/src/engine/models/classifier';
import { saveModel } from '../../server/src/engine/train/runFolder';
import { stackImages } from '../../server/src/engine/train/tensors';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from './shared';

export interface Box { top: number; left: number; bottom: number; right: number }

/** Side of the synthetic image, in pixels. */
export const EVIDENCE_IMAGE_SIZE = 320;
/** The checkerboard patch (inclusive-exclusive), in image pixels. */
export const EVIDENCE_PATCH: Box = { top: 24, left: 208, bottom: 112, right: 296 };
/** The run's input size: MobileNetV2's out_relu is then a 5 x 5 map, the patch covering its top-right 2 x 2 cells. */
export const EVIDENCE_MODEL_SIZE = 160;
export const EVIDENCE_TARGET = 'Normal';

export function inBox(b: Box, y: number, x: number): boolean {
  return y >= b.top && y < b.bottom && x >= b.left && x < b.right;
}

export function growBox(b: Box, margin: number, size = EVIDENCE_IMAGE_SIZE): Box {
  return { top: Math.max(0, b.top - margin), left: Math.max(0, b.left - margin), bottom: Math.min(size, b.bottom + margin), right: Math.min(size, b.right + margin) };
}

/** Writes the synthetic image as an 8-bit grey PNG. */
export async function writeEvidenceImage(file: string): Promise<void> {
  const n = EVIDENCE_IMAGE_SIZE;
  const px = new Uint8Array(n * n).fill(80);
  for (let y = EVIDENCE_PATCH.top; y < EVIDENCE_PATCH.bottom; y++) {
    for (let x = EVIDENCE_PATCH.left; x < EVIDENCE_PATCH.right; x++) px[y * n + x] = (Math.floor(y / 8) + Math.floor(x / 8)) % 2 === 0 ? 255 : 0;
  }
  fs.writeFileSync(file, await sharp(Buffer.from(px), { raw: { width: n, height: n, channels: 1 } }).png().toBuffer());
}

/** Trains the run into `runDir` and sets its head so that `image`'s patch drives EVIDENCE_TARGET. */
export async function buildEvidenceRun(runDir: string, image: string, engine = new Engine()): Promise<void> {
  const result = await engine.train({
    data: requireShared(CI_TINY), out: runDir, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST),
    imageSize: EVIDENCE_MODEL_SIZE, epochs: 1, valFraction: 0, seed: 1,
  });
  if (result.status !== 'completed') throw new Error(`training the evidence run ended ${result.status}`);
  const loaded = await loadRunModel(runDir);
  const { model, spec, config } = loaded;
  const target = config.classes.indexOf(EVIDENCE_TARGET);
  const featureModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer(spec.featureLayer).output as tfl.SymbolicTensor });
  const decoded = await decodeImage(image, config.imageSize);
  const [kernel, bias] = tf.tidy(() => {
    const features = featureModel.predict(spec.preprocess(stackImages([decoded.data], config.imageSize))) as tf.Tensor4D;
    const [, h, w, channels] = features.shape;
    const cell = EVIDENCE_IMAGE_SIZE / h;
    const patchMask: number[] = [];
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) patchMask.push(inBox(EVIDENCE_PATCH, (i + 0.5) * cell, (j + 0.5) * cell) ? 1 : 0);
    const flat = tf.reshape(features, [h * w, channels]);
    const inPatch = tf.tensor2d(patchMask, [h * w, 1]);
    const meanOf = (mask: tf.Tensor2D): tf.Tensor1D => tf.div(tf.sum(tf.mul(flat, mask), 0), tf.sum(mask)) as tf.Tensor1D;
    const direction = tf.sub(meanOf(inPatch), meanOf(tf.sub(1, inPatch) as tf.Tensor2D));
    const unit = tf.div(direction, tf.norm(direction));
    const columns = config.classes.map((_, c) => (c === target ? unit : tf.zerosLike(unit)));
    const biases = config.classes.map((_, c) => (c === target ? 5 : 0));
    return [tf.stack(columns, 1), tf.tensor1d(biases)];
  });
  model.getLayer(HEAD_DENSE_LAYER).setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  await saveModel(path.join(runDir, 'model'), model);
  model.dispose();
}

/**
 * Where an overlay PNG (RGBA or RGB) is reddest: the centroid of the pixels in the top `share` by red minus blue.
 * The synthetic image is grey, so any red comes from the heatmap (jet: red is hot, blue cold).
 */
export async function hotCentroid(png: string, share = 0.05): Promise<{ x: number; y: number; width: number; height: number; hot: { x: number; y: number }[] }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const redness: { v: number; x: number; y: number }[] = [];
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const p = (y * info.width + x) * info.channels;
      redness.push({ v: data[p] - data[p + 2], x, y });
    }
  }
  redness.sort((a, b) => b.v - a.v);
  const hot = redness.slice(0, Math.max(1, Math.round(redness.length * share)));
  return {
    x: hot.reduce((s, p) => s + p.x, 0) / hot.length,
    y: hot.reduce((s, p) => s + p.y, 0) / hot.length,
    width: info.width,
    height: info.height,
    hot: hot.map(({ x, y }) => ({ x, y })),
  };
}

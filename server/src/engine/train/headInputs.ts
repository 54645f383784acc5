import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetItem } from '../data/dataset';
import type { AugmentParams } from '../api';
import { randomTransform } from '../data/augment';
import { decodeInThread, type ImageDecoder } from '../data/imageDecoder';
import type { Rng } from '../util/rng';
import { HEAD_DENSE_LAYER, HEAD_POOL_LAYER } from '../models/classifier';
import { mapLimit } from '../util/concurrency';
import { gatherRows, type StreamedOutputs } from './featureStream';
import { elementCount, type FrozenPart } from './frozenPart';

/** True when the trainable part is exactly the added head: global average pooling, then the Dense classifier. */
export function isPooledDenseHead(after: tfl.LayersModel): boolean {
  const names = after.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name);
  return names.length === 2 && names[0] === HEAD_POOL_LAYER && names[1] === HEAD_DENSE_LAYER;
}

/** Where the trainable part's inputs come from, batch by batch. */
export interface HeadInputSource {
  /** Number of usable images. */
  size: number;
  labels: number[];
  /** The trainable part's input for these images (row indices into this source), as a tensor the caller disposes. */
  batch(indices: readonly number[]): Promise<tf.Tensor>;
}

/** Frozen outputs computed once and held on the host: a batch is a copy of some rows (no tf.gather on a big tensor). */
export function heldSource(streamed: StreamedOutputs): HeadInputSource {
  const rowSize = elementCount(streamed.outputShape);
  return {
    size: streamed.items.length,
    labels: streamed.items.map((i) => i.labelIndex),
    async batch(indices) {
      return tf.tensor(gatherRows(streamed.outputs, rowSize, indices), [indices.length, ...streamed.outputShape]);
    },
  };
}

/**
 * Images decoded (and, with augmentation, transformed) again for every batch and run through the frozen part: memory
 * holds one batch, whatever the dataset size. Used with augmentation, and when feature maps would not fit. The
 * transforms are drawn in index order before decoding, so a seed gives the same images whichever thread decodes.
 */
export function recomputedSource(
  items: readonly DatasetItem[],
  frozen: FrozenPart,
  imageSize: number,
  augment?: { params: AugmentParams; rng: Rng },
  decoder: ImageDecoder = decodeInThread,
): HeadInputSource {
  const pixels = imageSize * imageSize * 3;
  return {
    size: items.length,
    labels: items.map((i) => i.labelIndex),
    async batch(indices) {
      const transforms = indices.map(() => (augment ? randomTransform(augment.params, imageSize, augment.rng) : undefined));
      const batch = new Float32Array(indices.length * pixels);
      await mapLimit(indices, 4, async (i, k) => batch.set(await decoder(items[i].path, imageSize, transforms[k]), k * pixels));
      const out = await frozen.run(batch, indices.length);
      return tf.tensor(out, [indices.length, ...frozen.outputShape]);
    },
  };
}

import type * as tfl from '@tensorflow/tfjs-layers';
import type { RunConfig } from '../api';
import { FeatureCache, featureCacheEnabled, weightsHash, type FrozenKeyParts } from '../cache/featureCache';
import type { LoadedRun } from '../inference/runModel';
import { HEAD_DENSE_LAYER, HEAD_POOL_LAYER } from '../models/classifier';
import { splitModelAt } from '../models/split';

/**
 * The feature-cache key of a model's pooled features (everything up to and including the head's pooling). Training a
 * pooling + Dense head on a frozen base stores exactly these; the weights hash makes a fine-tuned base another key.
 */
export async function pooledKeyParts(config: Pick<RunConfig, 'backbone' | 'freezeAt' | 'imageSize'>, toPool: tfl.LayersModel): Promise<FrozenKeyParts> {
  return { backbone: config.backbone, cutAt: `${config.freezeAt}+${HEAD_POOL_LAYER}`, imageSize: config.imageSize, weights: await weightsHash(toPool) };
}

/** Looks up a run's pooled features in the disk cache: null for an image never stored (or with the cache off). */
export function storedPooledFeatures(loaded: LoadedRun): (file: string) => Promise<Float32Array | null> {
  if (!featureCacheEnabled()) return async () => null;
  // Made once, on the first lookup; concurrent lookups wait for the same one.
  let opened: Promise<{ cache: FeatureCache; channels: number }> | null = null;
  const open = async (): Promise<{ cache: FeatureCache; channels: number }> => {
    const split = splitModelAt(loaded.model, HEAD_POOL_LAYER);
    split.after.dispose(); // only the part up to the pooling is needed; this releases the head's extra use (see SplitModel.after)
    const toPool = split.before;
    return { cache: new FeatureCache(await pooledKeyParts(loaded.config, toPool)), channels: toPool.outputs[0].shape[1] as number };
  };
  return async (file) => {
    opened ??= open().catch((e: unknown) => {
      opened = null; // tried again on the next lookup
      throw e;
    });
    const { cache, channels } = await opened;
    try {
      return await cache.get(await cache.keyOf(file), channels);
    } catch {
      return null; // unreadable image: the pass that decodes it reports it
    }
  };
}

/** The head's Dense layer as plain arrays: probabilities of stored pooled features need no engine. */
export interface DenseSoftmax {
  /** channels x classes, row-major. */
  kernel: Float32Array;
  bias: Float32Array;
  channels: number;
  classes: number;
}

export async function denseSoftmaxOf(model: tfl.LayersModel): Promise<DenseSoftmax> {
  const [kernel, bias] = model.getLayer(HEAD_DENSE_LAYER).getWeights();
  const [channels, classes] = kernel.shape as [number, number];
  // async reads: webgpu has no sync read in Node
  return { kernel: (await kernel.data()) as Float32Array, bias: (await bias.data()) as Float32Array, channels, classes };
}

/** softmax(features . kernel + bias), in float64. */
export function softmaxOfPooled(head: DenseSoftmax, features: Float32Array): number[] {
  const logits = Array.from(head.bias, Number);
  for (let k = 0; k < head.channels; k++) {
    const f = features[k];
    if (f === 0) continue;
    for (let c = 0; c < head.classes; c++) logits[c] += f * head.kernel[k * head.classes + c];
  }
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

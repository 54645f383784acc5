import * as tf from '@tensorflow/tfjs-core';

/** Weights keyed 'layer/weight' (the TF.js originalName style): 'Conv1/kernel', 'bn_Conv1/moving_mean', ... */
export type NamedWeights = Map<string, tf.Tensor>;

export function disposeNamedWeights(weights: NamedWeights): void {
  for (const t of weights.values()) t.dispose();
  weights.clear();
}

/** 'layer/weight' from any longer TF variable name ('model/Conv1/kernel:0' -> 'Conv1/kernel'). */
export function normaliseWeightKey(name: string): string {
  const parts = name.replace(/:\d+$/, '').split('/').filter((p) => p.length > 0);
  return parts.slice(-2).join('/');
}

const sources = new WeakMap<NamedWeights, string>();

/** Remembers which file a set of weights was read from, so every message about them can name it. */
export function setWeightsSource(weights: NamedWeights, file: string): NamedWeights {
  sources.set(weights, file);
  return weights;
}

export function weightsSource(weights: NamedWeights): string | undefined {
  return sources.get(weights);
}

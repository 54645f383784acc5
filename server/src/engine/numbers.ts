import * as tf from '@tensorflow/tfjs-core';
import type { EpochMetrics, RunConfig } from './api';
import { CxrError } from './errors';
import { BACKBONE_IDS } from './names';
import { MAX_BATCH_SIZE, MAX_EPOCHS, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, rangeProblem, type TrainingNumberField } from './trainingRanges';

export { MAX_IMAGE_SIZE, MAX_LEARNING_RATE, MIN_IMAGE_SIZE } from './trainingRanges';

/**
 * Numbers that would lie: non-finite weights, predictions and losses, a training that diverged, hyperparameters
 * and run configs out of range. Each check fails with a sentence that says what is wrong and what to do.
 */

/** A trainable weight larger than this in magnitude means the optimisation has blown up. */
export const DIVERGED_WEIGHT_MAGNITUDE = 1e6;

/** INVALID_ARGUMENT naming the first out-of-range value among `values` (ranges: trainingRanges.ts). */
export function validateTrainingNumbers(values: Partial<Record<TrainingNumberField, number>>): void {
  for (const [field, value] of Object.entries(values) as [TrainingNumberField, number | undefined][]) {
    if (value === undefined) continue;
    const problem = rangeProblem(field, value);
    if (problem) throw new CxrError('INVALID_ARGUMENT', problem.message, { field, value: String(value) });
  }
}

/** Learning rate, momentum and input size of a new training. */
export function validateHyperparameters(h: { learningRate: number; momentum: number; imageSize: number }): void {
  validateTrainingNumbers({ learningRate: h.learningRate, momentum: h.momentum, imageSize: h.imageSize });
}

/**
 * A config.json read from disk (possibly foreign, hand-edited or crafted): its shape, and every number that sizes
 * memory or drives training within range. RUN_INVALID naming the field otherwise.
 */
export function validateRunConfig(config: unknown, file: string): RunConfig {
  const bad = (why: string): CxrError =>
    new CxrError('RUN_INVALID', `${file} is not a usable CXR Studio run config: ${why}. It was damaged, edited, or written by another tool.`, { file });
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw bad('it is not a JSON object');
  const c = config as Record<string, unknown>;
  if (c.version !== 1) throw bad(`'version' is ${JSON.stringify(c.version)}, not 1`);
  if (typeof c.backbone !== 'string' || !(BACKBONE_IDS as readonly string[]).includes(c.backbone)) throw bad(`'backbone' is not one of ${BACKBONE_IDS.join(', ')}`);
  if (!Array.isArray(c.classes) || c.classes.length < 2 || !c.classes.every((x) => typeof x === 'string')) throw bad("'classes' is not a list of at least two names");
  if (typeof c.data !== 'string') throw bad("'data' is not a path");
  const int = (name: string, min: number, max: number): void => {
    const v = c[name];
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw bad(`'${name}' is ${JSON.stringify(v)}, not a whole number from ${min} to ${max}`);
  };
  int('imageSize', MIN_IMAGE_SIZE, MAX_IMAGE_SIZE);
  int('epochs', 1, MAX_EPOCHS);
  int('batchSize', 1, MAX_BATCH_SIZE);
  try {
    validateHyperparameters({ learningRate: c.learningRate as number, momentum: c.momentum as number, imageSize: c.imageSize as number });
  } catch (e) {
    throw bad((e as Error).message.replace(/\.$/, '').replace(/^The /, 'the '));
  }
  return config as RunConfig;
}

/** NON_FINITE when a weights file holds NaN or infinite values (random bytes in a shard, a corrupted download). */
export function assertFiniteWeights(weights: ReadonlyMap<string, tf.Tensor>, file: string): void {
  for (const [name, t] of weights) {
    if (t.dtype !== 'float32') continue;
    const values = t.dataSync() as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new CxrError('NON_FINITE', `${file}: weight '${name}' holds ${String(values[i])} values: the file is damaged (or not weights at all). Use an intact copy.`, {
          file,
          weight: name,
        });
      }
    }
  }
}

/** NON_FINITE when a model's output is not a probability (damaged weights that passed every other check). */
export function assertFiniteProbabilities(probs: readonly (readonly number[])[], files: readonly string[]): void {
  probs.forEach((row, i) => {
    if (row.some((p) => !Number.isFinite(p))) {
      throw new CxrError('NON_FINITE', `The model's output for ${files[i] ?? 'an image'} is not a number (NaN): its weights are damaged. Retrain the run or restore its model folder.`, {
        file: files[i],
      });
    }
  });
}

/** Why an epoch's numbers show a diverged training, or null when they look sane (reads are async: webgpu has no sync read in Node). */
export async function divergence(metrics: EpochMetrics, trainable: readonly tf.Variable[]): Promise<string | null> {
  if (!Number.isFinite(metrics.loss)) return `the training loss is ${metrics.loss}`;
  if (metrics.valLoss !== null && !Number.isFinite(metrics.valLoss)) return `the validation loss is ${metrics.valLoss}`;
  for (const v of trainable) {
    const values = (await v.data()) as Float32Array;
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      if (!Number.isFinite(x) || Math.abs(x) > DIVERGED_WEIGHT_MAGNITUDE) {
        return `weight '${v.name}' reached ${x.toExponential(2)} (a model whose weights blow up answers one class at 100%)`;
      }
    }
  }
  return null;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { RunConfig } from '../api';
import { decodeImage } from '../data/decode';
import { CxrError } from '../errors';
import { buildClassifier } from '../models/classifier';
import { getBackbone, type BackboneSpec } from '../models/registry';
import { applyNamedWeights, readWeightsFile } from '../models/weights';
import { readRunConfig, trainedModelManifest } from '../runStore';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { predictInChunks, stackImages } from '../train/tensors';
import { assertFiniteProbabilities } from '../numbers';

import { mapLimit, yieldToEventLoop } from '../util/concurrency';

/** A trained run's best model, ready for inference. */
export interface LoadedRun {
  runDir: string;
  config: RunConfig;
  spec: BackboneSpec;
  model: tfl.LayersModel;
  /** mtime of the weights when loaded, to notice a newer best model. */
  loadedMtimeMs: number;
}

export async function loadRunModel(runDir: string, policy: PathPolicy = UNRESTRICTED): Promise<LoadedRun> {
  const dir = path.resolve(runDir);
  const config = readRunConfig(dir, policy);
  const manifest = trainedModelManifest(dir, policy);
  const spec = getBackbone(config.backbone);
  const model = buildClassifier(spec, config.classes.length, config.imageSize, { weightsFollow: true });
  try {
    const named = await readWeightsFile(manifest, policy);
    try {
      applyNamedWeights(model, named);
    } finally {
      named.forEach((t) => t.dispose());
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { runDir: dir, config, spec, model, loadedMtimeMs: fs.statSync(manifest).mtimeMs };
}

export function modelMtime(runDir: string): number {
  try {
    return fs.statSync(trainedModelManifest(runDir)).mtimeMs;
  } catch {
    return -1;
  }
}

/** Decodes and classifies files in chunks; returns one probability vector per file, in order. NON_FINITE on NaN output. */
export async function classifyFiles(
  model: tfl.LayersModel,
  spec: BackboneSpec,
  imageSize: number,
  files: readonly string[],
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<number[][]> {
  const chunk = 16;
  const out: number[][] = [];
  for (let start = 0; start < files.length; start += chunk) {
    if (signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
    const part = files.slice(start, start + chunk);
    const images = await mapLimit(part, 4, async (f) => (await decodeImage(f, imageSize)).data);
    const probs = tf.tidy(() => predictInChunks(model, spec.preprocess(stackImages(images, imageSize)), chunk));
    out.push(...((await probs.array()) as number[][]));
    probs.dispose();
    assertFiniteProbabilities(out.slice(-part.length), part);
    onProgress?.(Math.min(start + chunk, files.length), files.length);
    await yieldToEventLoop();
  }
  return out;
}

export function probabilitiesRecord(classes: readonly string[], probs: readonly number[]): Record<string, number> {
  return Object.fromEntries(classes.map((c, i) => [c, probs[i]]));
}


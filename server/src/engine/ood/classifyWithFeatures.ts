import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { decodeImage, type DecodedImage } from '../data/decode';
import { CxrError } from '../errors';
import type { LoadedRun } from '../inference/runModel';
import type { RunSession } from '../inference/runSession';
import { HEAD_POOL_LAYER } from '../models/classifier';
import { stackImages } from '../train/tensors';
import { mapLimit, yieldToEventLoop } from '../util/concurrency';
import { checkChestRadiograph, type ChestCheck } from './chestCheck';

export interface ClassifiedImage {
  probs: number[];
  /** The pooled backbone features (the input of the Dense head). */
  features: Float32Array;
  check: ChestCheck;
}

const featureModels = new WeakMap<tfl.LayersModel, tfl.LayersModel>();

/**
 * One decode and one forward pass per image: probabilities, pooled features and the chest-radiograph check. With the
 * run's warm session (ONNX Runtime) and a pooling + Dense head, that session's single pass gives both; otherwise tfjs.
 */
export async function classifyWithFeatures(
  loaded: LoadedRun,
  files: readonly string[],
  opts: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; skipUnreadable?: boolean; session?: RunSession } = {},
): Promise<(ClassifiedImage | null)[]> {
  const { onProgress, signal } = opts;
  const session = opts.session?.loaded === loaded && opts.session.hasAllClassMaps ? opts.session : null;
  const size = loaded.config.imageSize;
  const chunk = 16;
  const out: (ClassifiedImage | null)[] = [];
  for (let start = 0; start < files.length; start += chunk) {
    if (signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
    const attempts = await mapLimit(files.slice(start, start + chunk), 4, (f) =>
      opts.skipUnreadable ? decodeImage(f, size).catch(() => null) : decodeImage(f, size),
    );
    const decoded = attempts.filter((d): d is DecodedImage => d !== null);
    const results: ClassifiedImage[] = [];
    if (decoded.length > 0) {
      const { probs, features } = session ? (await sessionPass(session, decoded, size))! : await tfjsPass(loaded, decoded, size);
      decoded.forEach((d, i) => results.push({ probs: probs[i], features: features[i], check: checkChestRadiograph(d) }));
    }
    let next = 0;
    for (const a of attempts) out.push(a === null ? null : results[next++]);
    onProgress?.(Math.min(start + chunk, files.length), files.length);
    await yieldToEventLoop();
  }
  return out;
}

async function sessionPass(session: RunSession, decoded: DecodedImage[], size: number) {
  const pixels = size * size * 3;
  const batch = new Float32Array(decoded.length * pixels);
  decoded.forEach((d, i) => batch.set(d.data, i * pixels));
  return session.classifyWithFeatures(batch, decoded.length);
}

async function tfjsPass(loaded: LoadedRun, decoded: DecodedImage[], size: number): Promise<{ probs: number[][]; features: Float32Array[] }> {
  const model = twoOutputModel(loaded.model);
  const [features, probs] = tf.tidy(() => model.predict(loaded.spec.preprocess(stackImages(decoded.map((d) => d.data), size))) as tf.Tensor[]);
  const f = (await features.data()) as Float32Array;
  const p = (await probs.array()) as number[][];
  tf.dispose([features, probs]);
  const dims = f.length / decoded.length;
  return { probs: p, features: decoded.map((_, i) => f.slice(i * dims, (i + 1) * dims)) };
}

function twoOutputModel(model: tfl.LayersModel): tfl.LayersModel {
  let m = featureModels.get(model);
  if (!m) {
    // Node 0 is the layer's call inside this model; splitting the model elsewhere (the ONNX session's head) calls the
    // same layer again, and `.output` then throws "has multiple inbound nodes".
    const pooled = model.getLayer(HEAD_POOL_LAYER).inboundNodes[0].outputTensors[0];
    m = tfl.model({ inputs: model.inputs, outputs: [pooled, model.outputs[0]] });
    featureModels.set(model, m);
  }
  return m;
}

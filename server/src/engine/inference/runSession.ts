import * as tfl from '@tensorflow/tfjs-layers';
import type { ExcludedImage } from '../api';
import { CxrError } from '../errors';
import { camDense } from '../explain/cam/head';
import { minMaxNormalise, reluMaxNormalise, type NormalisedMap } from '../explain/cam/normalise';
import { splitModelAt } from '../models/split';
import { yieldToEventLoop } from '../util/concurrency';
import { forEachDecodedChunk, type DecodeAttempt } from './decodeAhead';
import { createForwardPass, type ForwardPass, type PassEngine } from './forwardPass';
import type { LoadedRun } from './runModel';

/** Every class's CAM and Grad-CAM for one image, from one forward pass. */
export interface ClassMaps {
  width: number;
  height: number;
  probabilities: number[];
  /** The feature map averaged over positions: the pooled features the Dense head (and the OOD model) sees. */
  pooled: Float32Array;
  /** Indexed by class. */
  cam: NormalisedMap[];
  gradcam: NormalisedMap[];
}

interface CamHead {
  /** Dense kernel, channels x classes, row-major. */
  kernel: Float32Array;
  channels: number;
  classes: number;
  height: number;
  width: number;
}

/**
 * A trained run ready for gradient-free passes, kept warm while it is the active model: one forward pass (ONNX
 * Runtime where it loads, else tfjs). For a pooling + Dense head the pass returns the feature map as well as the
 * probabilities, and the maps of every class and both methods are arithmetic on them:
 *   CAM_c = sum_k W[k,c] A_k (min-max normalised);
 *   Grad-CAM_c: d logit_c / dA_k = W[k,c] / (h*w) at every position, so its channel weights are W[:,c] / (h*w) and the
 *   map is ReLU(CAM_c raw) / max, the same as the tfjs Grad-CAM computes with gradients.
 */
export class RunSession {
  private constructor(
    readonly loaded: LoadedRun,
    private readonly pass: ForwardPass,
    private readonly camHead: CamHead | null,
  ) {}

  static async open(loaded: LoadedRun, onFallback?: (reason: string) => void): Promise<RunSession> {
    const { model, spec, config } = loaded;
    const camHead = await pooledDenseHead(model, spec.featureLayer);
    const forward = camHead
      ? tfl.model({ inputs: model.inputs, outputs: [featureOutput(model, spec.featureLayer), model.outputs[0]], name: `${model.name}_maps_and_probs` })
      : model;
    const pass = await createForwardPass(forward, spec, config.imageSize, onFallback);
    return new RunSession(loaded, pass, camHead);
  }

  get engine(): PassEngine {
    return this.pass.engine;
  }

  /** True when explainAll can answer (a pooling + Dense head). */
  get hasAllClassMaps(): boolean {
    return this.camHead !== null;
  }

  /** Probabilities of `n` decoded images. */
  async classify(batch: Float32Array, n: number): Promise<number[][]> {
    const outs = await this.pass.run(batch, n);
    const probs = outs[this.camHead ? 1 : 0];
    const k = probs.length / n;
    return Array.from({ length: n }, (_, i) => Array.from(probs.subarray(i * k, (i + 1) * k)));
  }

  /**
   * Decodes and classifies files, a chunk at a time, one probability vector per file in order; a file that cannot be
   * read as an image (damaged, unsupported, too large, not a regular file) is left out and reported in `unreadable`
   * instead of failing the whole call: its entry in `probs` is null.
   */
  async classifyReadable(
    files: readonly string[],
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
    /** Given every class's maps of each file the pass classified, where the head is pooling + Dense. */
    onMaps?: (file: string, maps: ClassMaps) => void,
  ): Promise<{ probs: (number[] | null)[]; unreadable: ExcludedImage[] }> {
    const size = this.loaded.config.imageSize;
    const pixels = size * size * 3;
    const out: (number[] | null)[] = [];
    const unreadable: ExcludedImage[] = [];
    await forEachDecodedChunk(files, { size, chunk: 16, skipUnreadable: true, signal }, async (attempts, start) => {
      const readable = attempts.flatMap((a) => ('image' in a ? [a.image.data] : []));
      const batch = new Float32Array(readable.length * pixels);
      readable.forEach((d, k) => batch.set(d, k * pixels));
      const probs = readable.length === 0 ? [] : onMaps ? await this.classifyKeepingMaps(batch, attempts, onMaps) : await this.classify(batch, readable.length);
      let next = 0;
      for (const a of attempts) {
        if ('image' in a) out.push(probs[next++]);
        else {
          out.push(null);
          unreadable.push({ file: a.file, code: a.error.code, reason: a.error.message });
        }
      }
      onProgress?.(Math.min(start + attempts.length, files.length), files.length);
      await yieldToEventLoop();
    });
    return { probs: out, unreadable };
  }

  /** classify(), also handing each image's maps to `onMaps` where the head is pooling + Dense (same pass, same numbers). */
  private async classifyKeepingMaps(batch: Float32Array, attempts: DecodeAttempt[], onMaps: (file: string, maps: ClassMaps) => void): Promise<number[][]> {
    const files = attempts.flatMap((a) => ('image' in a ? [a.file] : []));
    const head = this.camHead;
    if (!head) return this.classify(batch, files.length);
    const [features, probs] = await this.pass.run(batch, files.length);
    return files.map((file, i) => {
      try {
        onMaps(file, imageMaps(head, features, probs, i));
      } catch {
        // Non-finite maps (broken weights): nothing to keep; the probabilities say the rest.
      }
      return Array.from(probs.subarray(i * head.classes, (i + 1) * head.classes));
    });
  }

  /**
   * Probabilities and pooled features (the Dense head's input: the feature map averaged over positions, as the head's
   * pooling does) of `n` decoded images from the one warm pass; null unless the head is pooling + Dense.
   */
  async classifyWithFeatures(batch: Float32Array, n: number): Promise<{ probs: number[][]; features: Float32Array[] } | null> {
    const head = this.camHead;
    if (!head) return null;
    const [maps, probs] = await this.pass.run(batch, n);
    const positions = head.height * head.width;
    const perImage = positions * head.channels;
    const features = Array.from({ length: n }, (_, i) => {
      const sum = new Float64Array(head.channels);
      for (let p = 0; p < positions; p++) {
        const row = i * perImage + p * head.channels;
        for (let k = 0; k < head.channels; k++) sum[k] += maps[row + k];
      }
      return Float32Array.from(sum, (v) => v / positions);
    });
    return { probs: Array.from({ length: n }, (_, i) => Array.from(probs.subarray(i * head.classes, (i + 1) * head.classes))), features };
  }

  /** Probabilities and every class's CAM and Grad-CAM for one decoded image; null unless the head is pooling + Dense. */
  async explainAll(image: Float32Array): Promise<ClassMaps | null> {
    return (await this.explainMany(image, 1))?.[0] ?? null;
  }

  /** explainAll for `n` decoded images in one pass (a batch of n); null unless the head is pooling + Dense. */
  async explainMany(batch: Float32Array, n: number): Promise<ClassMaps[] | null> {
    const head = this.camHead;
    if (!head) return null;
    const [features, probs] = await this.pass.run(batch, n);
    return Array.from({ length: n }, (_, i) => imageMaps(head, features, probs, i));
  }

  /**
   * The feature map and probabilities of one decoded image, with the head's Dense kernel (channels x classes): what
   * explainAll computes maps from, for checks that swap the kernel. Null unless the head is pooling + Dense.
   */
  async featureMaps(image: Float32Array): Promise<{ features: Float32Array; probabilities: number[]; kernel: Float32Array; channels: number; classes: number; height: number; width: number } | null> {
    const head = this.camHead;
    if (!head) return null;
    const [features, probs] = await this.pass.run(image, 1);
    return { ...head, features, probabilities: Array.from(probs) };
  }

  dispose(): void {
    this.pass.dispose();
  }
}

/** classMaps of image `i` of a batch's feature maps and probabilities. */
function imageMaps(head: CamHead, features: Float32Array, probs: Float32Array, i: number): ClassMaps {
  const perImage = head.height * head.width * head.channels;
  return classMaps(head, features.subarray(i * perImage, (i + 1) * perImage), probs.subarray(i * head.classes, (i + 1) * head.classes));
}

/** Every class's CAM and Grad-CAM of one image from its feature map (positions x channels) and probabilities. */
function classMaps(head: CamHead, features: Float32Array, probs: Float32Array): ClassMaps {
  const positions = head.height * head.width;
  const cam: NormalisedMap[] = [];
  const gradcam: NormalisedMap[] = [];
  for (let c = 0; c < head.classes; c++) {
    const raw = new Float32Array(positions);
    for (let p = 0; p < positions; p++) {
      let sum = 0;
      const row = p * head.channels;
      for (let k = 0; k < head.channels; k++) sum += features[row + k] * head.kernel[k * head.classes + c];
      raw[p] = sum;
    }
    if (raw.some((v) => !Number.isFinite(v))) {
      throw new CxrError('INTERNAL', 'The class map has non-finite values; the model output is broken (NaN weights?).');
    }
    cam.push(minMaxNormalise(raw));
    gradcam.push(reluMaxNormalise(raw));
  }
  const pooled = new Float32Array(head.channels);
  for (let p = 0; p < positions; p++) for (let k = 0; k < head.channels; k++) pooled[k] += features[p * head.channels + k];
  for (let k = 0; k < head.channels; k++) pooled[k] /= positions;
  return { width: head.width, height: head.height, probabilities: Array.from(probs), pooled, cam, gradcam };
}

function featureOutput(model: tfl.LayersModel, featureLayer: string): tfl.SymbolicTensor {
  return model.getLayer(featureLayer).inboundNodes[0].outputTensors[0];
}

/** The Dense kernel when the model is features -> GAP -> Dense (the head CAM needs), else null. */
async function pooledDenseHead(model: tfl.LayersModel, featureLayer: string): Promise<CamHead | null> {
  let split: ReturnType<typeof splitModelAt>;
  try {
    split = splitModelAt(model, featureLayer);
  } catch {
    return null;
  }
  try {
    let dense: tfl.layers.Layer;
    try {
      dense = camDense(split.after, featureLayer);
    } catch {
      return null;
    }
    const [kernel] = dense.getWeights();
    const [channels, classes] = kernel.shape as [number, number];
    const shape = featureOutput(model, featureLayer).shape as number[];
    return {
      kernel: (await kernel.data()) as Float32Array, // async: webgpu has no sync read in Node
      channels,
      classes,
      height: shape[1],
      width: shape[2],
    };
  } finally {
    split.after.dispose(); // the head's layers stay the run model's (see SplitModel.after)
  }
}

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackboneSpec } from '../models/registry';
import { layersToOnnx } from '../onnx/fromLayers';
import { ONNX_PREPROCESS } from '../onnx/preprocess';
import { loadOrt, ortStatus, OrtModel } from '../onnx/runtime';

/** Which engine runs a gradient-free pass. */
export type PassEngine = 'onnxruntime' | 'tfjs';

/**
 * The frozen part of a model as a plain function from decoded images to outputs: [0,1] RGB NHWC in, the cut layer's
 * output out (flattened per image). The backbone's own scaling happens inside. One implementation per engine.
 */
export interface FrozenPart {
  engine: PassEngine;
  /** Shape of one image's output, e.g. [1280] for pooled features or [7, 7, 1280] for a feature map. */
  outputShape: number[];
  /** `batch` holds `n` images of size*size*3; returns n * prod(outputShape) floats. */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The tfjs implementation: preprocessing and predict() in inference mode. */
export function tfjsFrozenPart(before: tfl.LayersModel, spec: BackboneSpec, imageSize: number): FrozenPart {
  const outputShape = (before.outputs[0].shape.slice(1) as number[]);
  return {
    engine: 'tfjs',
    outputShape,
    async run(batch, n) {
      const out = tf.tidy(() => before.predict(spec.preprocess(tf.tensor4d(batch, [n, imageSize, imageSize, 3]))) as tf.Tensor);
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    dispose() {
      // `before` shares its layers with the caller's model, which owns the weights.
    },
  };
}

/** ONNX Runtime: the same layers and weights written as an ONNX graph at run time, preprocessing inside. */
export async function ortFrozenPart(before: tfl.LayersModel, spec: BackboneSpec, imageSize: number): Promise<FrozenPart | null> {
  const ort = loadOrt();
  if (!ort) return null;
  const conversion = layersToOnnx(before, ONNX_PREPROCESS[spec.id]);
  const model = await OrtModel.create(ort, conversion.bytes, conversion.inputName, conversion.outputNames);
  return {
    engine: 'onnxruntime',
    outputShape: before.outputs[0].shape.slice(1) as number[],
    async run(batch, n) {
      return (await model.run(batch, [n, imageSize, imageSize, 3]))[0];
    },
    dispose() {
      void model.dispose();
    },
  };
}

/**
 * The fastest engine that can run this frozen part: ONNX Runtime, else tfjs. A graph ONNX cannot express (a layer
 * kind the writer does not cover) falls back to tfjs with the reason passed to `onFallback`.
 */
export async function createFrozenPart(
  before: tfl.LayersModel,
  spec: BackboneSpec,
  imageSize: number,
  onFallback?: (reason: string) => void,
): Promise<FrozenPart> {
  try {
    const part = await ortFrozenPart(before, spec, imageSize);
    if (part) return part;
    onFallback?.(ortStatus().reason ?? 'ONNX Runtime is not available');
  } catch (e) {
    onFallback?.(`ONNX Runtime could not run the frozen layers: ${e instanceof Error ? e.message : String(e)}`);
  }
  return tfjsFrozenPart(before, spec, imageSize);
}

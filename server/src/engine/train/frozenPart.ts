import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackboneSpec } from '../models/registry';

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

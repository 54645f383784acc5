import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackboneSpec } from '../models/registry';
import { layersToOnnx } from '../onnx/fromLayers';
import { ONNX_PREPROCESS } from '../onnx/preprocess';
import { loadOrt, ortStatus, OrtModel } from '../onnx/runtime';

/** Which engine runs a gradient-free pass. */
export type PassEngine = 'onnxruntime' | 'tfjs';

/**
 * A model without gradients as a plain function: decoded [0,1] RGB NHWC images in (the backbone's scaling happens
 * inside), each model output out as flat float32 (rank-4 outputs NHWC). One implementation per engine.
 */
export interface ForwardPass {
  engine: PassEngine;
  /** Shape of one image's slice of each output, e.g. [[7, 7, 1280], [3]]. */
  outputShapes: number[][];
  /** `batch` holds `n` images of size*size*3; returns, per output, n * prod(shape) floats. */
  run(batch: Float32Array, n: number): Promise<Float32Array[]>;
  dispose(): void;
}

function shapesOf(model: tfl.LayersModel): number[][] {
  return model.outputs.map((o) => o.shape.slice(1) as number[]);
}

/** tfjs: preprocessing and predict() in inference mode. */
export function tfjsForwardPass(model: tfl.LayersModel, spec: BackboneSpec, imageSize: number): ForwardPass {
  return {
    engine: 'tfjs',
    outputShapes: shapesOf(model),
    async run(batch, n) {
      const outs = tf.tidy(() => {
        const y = model.predict(spec.preprocess(tf.tensor4d(batch, [n, imageSize, imageSize, 3])));
        return Array.isArray(y) ? y : [y];
      });
      try {
        return (await Promise.all(outs.map((o) => o.data()))) as Float32Array[];
      } finally {
        tf.dispose(outs);
      }
    },
    dispose() {
      // The model's layers belong to the caller, which owns the weights.
    },
  };
}

/** ONNX Runtime: the same layers and weights written as an ONNX graph now (weights as they are at this moment). */
export async function ortForwardPass(model: tfl.LayersModel, spec: BackboneSpec, imageSize: number): Promise<ForwardPass | null> {
  const ort = loadOrt();
  if (!ort) return null;
  const conversion = await layersToOnnx(model, ONNX_PREPROCESS[spec.id]);
  const session = await OrtModel.create(ort, conversion.bytes, conversion.inputName, conversion.outputNames);
  return {
    engine: 'onnxruntime',
    outputShapes: shapesOf(model),
    run: (batch, n) => session.runImages(batch, [n, imageSize, imageSize, 3]),
    dispose() {
      void session.dispose();
    },
  };
}

/**
 * The fastest engine that can run this model: ONNX Runtime, else tfjs. A graph ONNX cannot express (a layer kind
 * the writer does not cover) or a missing onnxruntime-node falls back to tfjs, with the reason passed to `onFallback`.
 */
export async function createForwardPass(
  model: tfl.LayersModel,
  spec: BackboneSpec,
  imageSize: number,
  onFallback?: (reason: string) => void,
): Promise<ForwardPass> {
  try {
    const pass = await ortForwardPass(model, spec, imageSize);
    if (pass) return pass;
    onFallback?.(ortStatus().reason ?? 'ONNX Runtime is not available');
  } catch (e) {
    onFallback?.(`ONNX Runtime could not run '${model.name}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return tfjsForwardPass(model, spec, imageSize);
}

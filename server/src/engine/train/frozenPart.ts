import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackboneSpec } from '../models/registry';
import { createForwardPass, tfjsForwardPass, type ForwardPass, type PassEngine } from '../inference/forwardPass';

/** The frozen part of a model (one output): decoded images in, the cut layer's output out, flattened per image. */
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

function single(pass: ForwardPass): FrozenPart {
  return {
    engine: pass.engine,
    outputShape: pass.outputShapes[0],
    run: async (batch, n) => (await pass.run(batch, n))[0],
    dispose: () => pass.dispose(),
  };
}

export function tfjsFrozenPart(before: tfl.LayersModel, spec: BackboneSpec, imageSize: number): FrozenPart {
  return single(tfjsForwardPass(before, spec, imageSize));
}

/** ONNX Runtime where it loads and covers the layers, else tfjs (see createForwardPass). */
export async function createFrozenPart(
  before: tfl.LayersModel,
  spec: BackboneSpec,
  imageSize: number,
  onFallback?: (reason: string) => void,
): Promise<FrozenPart> {
  return single(await createForwardPass(before, spec, imageSize, onFallback));
}

/**
 * A frozen part created on the first call of `run` (building the ONNX graph and its session costs a fraction of a
 * second): training on a warm feature cache never runs it. `onCreate` hears which engine it got.
 */
export function lazyFrozenPart(before: tfl.LayersModel, create: () => Promise<FrozenPart>, onCreate?: (engine: PassEngine) => void): FrozenPart {
  let part: Promise<FrozenPart> | null = null;
  let created: FrozenPart | null = null;
  return {
    get engine(): PassEngine {
      return created?.engine ?? 'onnxruntime';
    },
    outputShape: before.outputs[0].shape.slice(1) as number[],
    async run(batch, n) {
      part ??= create().then((p) => {
        created = p;
        onCreate?.(p.engine);
        return p;
      });
      return (await part).run(batch, n);
    },
    dispose() {
      void part?.then((p) => p.dispose());
    },
  };
}

import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../errors';

type SymbolicTensor = tfl.SymbolicTensor;

export interface SplitModel {
  /** Input -> output of the cut layer. */
  before: tfl.LayersModel;
  /**
   * Output of the cut layer -> the model's output. Shares layer objects (and so weights) with the original. Dispose it
   * when done: re-applying the layers counted one more use of each, and until that use is released, disposing the
   * original model leaves their weights allocated. Disposing it frees no weight the original still uses.
   */
  after: tfl.LayersModel;
  /** Names of the layers in `before` (the cut layer included). */
  beforeLayers: string[];
}

/**
 * Cuts a single-input, single-output functional model in two at `layerName`. Used to run a frozen base in inference
 * mode while the rest trains, and to get "features -> class scores" for Grad-CAM.
 *
 * Layers are re-applied to a new input in the original graph's order; each layer's first inbound node is the
 * original graph's, so splitting a model several times is fine. The cut must be a bottleneck: nothing after it may
 * read any tensor from before it other than the cut layer's output (e.g. not inside a residual block).
 */
export function splitModelAt(model: tfl.LayersModel, layerName: string): SplitModel {
  const cut = findLayer(model, layerName);
  const beforeSet = ancestorsOf(cut);
  const cutOutput = cut.inboundNodes[0].outputTensors[0];

  const before = tfl.model({ inputs: model.inputs, outputs: cutOutput, name: `${model.name}_to_${layerName}` });
  const newInput = tfl.input({ shape: cutOutput.shape.slice(1) as number[], name: `${layerName}_features` });
  const mapped = new Map<number, SymbolicTensor>([[cutOutput.id, newInput]]);

  for (const layer of model.layers) {
    if (beforeSet.has(layer)) continue;
    const node = layer.inboundNodes[0];
    const inputs = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) {
        throw new CxrError(
          'INVALID_ARGUMENT',
          `Cannot cut the model at '${layerName}': layer '${layer.name}' after it also reads '${t.sourceLayer.name}', ` +
            'which is before the cut. Choose a layer at a block boundary (e.g. a block\'s add or final output).',
        );
      }
      return m;
    });
    const out = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as SymbolicTensor | SymbolicTensor[];
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
  }

  const finalOutput = mapped.get((model.outputs[0] as SymbolicTensor).id);
  if (!finalOutput) throw new CxrError('INTERNAL', `Model output is not reachable after cutting at '${layerName}'.`);
  const after = tfl.model({ inputs: newInput, outputs: finalOutput, name: `${model.name}_from_${layerName}` });
  return { before, after, beforeLayers: model.layers.filter((l) => beforeSet.has(l)).map((l) => l.name) };
}

function findLayer(model: tfl.LayersModel, name: string): tfl.layers.Layer {
  const layer = model.layers.find((l) => l.name === name);
  if (!layer) {
    throw new CxrError('INVALID_ARGUMENT', `Layer '${name}' is not in model '${model.name}'.`, {
      layers: model.layers.map((l) => l.name),
    });
  }
  return layer;
}

function ancestorsOf(layer: tfl.layers.Layer): Set<tfl.layers.Layer> {
  const seen = new Set<tfl.layers.Layer>();
  const stack = [layer];
  while (stack.length > 0) {
    const l = stack.pop()!;
    if (seen.has(l)) continue;
    seen.add(l);
    const node = l.inboundNodes[0];
    if (node) stack.push(...node.inboundLayers);
  }
  return seen;
}

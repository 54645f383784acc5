import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeModel, type GraphIo } from './onnxModel';
import { GraphBuilder, pair, tfPads } from './fromLayers';

type Layer = tfl.layers.Layer;
type Sym = tfl.SymbolicTensor;
export type LayerVariable = Layer['weights'][number];

export const TRAIN_X = 'x';
export const TRAIN_Y = 'y';
export const TRAIN_LOSS = 'loss';
export const TRAIN_PROBS = 'probs';

/** Clipping of the probabilities inside the cross-entropy, as trainer/tensors.ts (and Keras) do. */
const EPSILON = 1e-7;
const FLOAT = 1;

export interface TrainingGraph {
  bytes: Uint8Array;
  /** Every weight of the chain, fed as a graph input in tfjs layout; `gradient` names its gradient output (trainable ones). */
  weights: { variable: LayerVariable; input: string; gradient: string | null }[];
}

/**
 * The layers of a trainable part, input to output, when it is a plain chain this writer covers: stride-1 Conv2D
 * (ReLU or linear), non-overlapping MaxPooling2D, GlobalAveragePooling2D and a final softmax Dense (VGG16's block4-5
 * plus the head). Otherwise the reason it is not.
 */
export function trainableChain(model: tfl.LayersModel): { layers: ChainLink[] } | { reason: string } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return { reason: 'the trainable part has several inputs or outputs' };
  const layers: ChainLink[] = [];
  let t: Sym = model.outputs[0];
  while (t.id !== model.inputs[0].id) {
    if (t.inputs.length !== 1) return { reason: `layer '${t.sourceLayer.name}' has ${t.inputs.length} inputs` };
    layers.unshift({ layer: t.sourceLayer, inShape: t.inputs[0].shape.slice(1) as number[] });
    t = t.inputs[0];
  }
  if (layers.at(-1)?.layer.getClassName() !== 'Dense') return { reason: 'the trainable part does not end in a Dense classifier' };
  for (const [i, { layer }] of layers.entries()) {
    const why = unsupported(layer, i === layers.length - 1);
    if (why) return { reason: `layer '${layer.name}' (${layer.getClassName()}): ${why}` };
  }
  return { layers };
}

function unsupported(layer: Layer, last: boolean): string | null {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const cfg = layer.getConfig() as Record<string, any>;
  if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') return `data format ${cfg.dataFormat}`;
  switch (layer.getClassName()) {
    case 'Conv2D': {
      const s = pair(cfg.strides);
      const d = pair(cfg.dilationRate ?? 1);
      if (s[0] !== 1 || s[1] !== 1 || d[0] !== 1 || d[1] !== 1) return 'strided or dilated convolution';
      return cfg.activation === 'relu' || cfg.activation === 'linear' ? null : `activation ${cfg.activation}`;
    }
    case 'MaxPooling2D': {
      const k = pair(cfg.poolSize);
      const s = pair(cfg.strides ?? cfg.poolSize);
      return cfg.padding === 'valid' && k[0] === s[0] && k[1] === s[1] ? null : 'overlapping or padded pooling';
    }
    case 'GlobalAveragePooling2D':
      return null;
    case 'Dense':
      return last && cfg.activation === 'softmax' ? null : 'only a final softmax Dense';
    default:
      return 'layer kind not covered';
  }
}

/** A layer of the chain and the shape of its input for one image (NHWC, or [c] after pooling). */
export interface ChainLink {
  layer: Layer;
  inShape: number[];
}

interface Saved {
  layer: Layer;
  /** NCHW (or [n, c] after pooling) input and output of the layer in the forward graph. */
  input: string;
  output: string;
  inShape: number[];
  weights: string[];
  /** MaxPool's argmax indices. */
  indices?: string;
}

/**
 * One training step of `layers` as an ONNX graph: the forward pass, the mean categorical cross-entropy on clipped
 * probabilities, and the gradient of that loss with respect to every trainable weight, written out by hand (ONNX
 * Runtime has no autodiff in Node). Inputs: x (NHWC, the part's input), y (one-hot), the weights in tfjs layout;
 * outputs: loss, probs, one gradient per trainable weight in tfjs layout. `forwardOnly` leaves the gradients out
 * (validation). Convolutions run NCHW inside.
 */
export function buildTrainingGraph(model: tfl.LayersModel, layers: ChainLink[], opts: { forwardOnly?: boolean } = {}): TrainingGraph {
  const b = new GraphBuilder();
  const inShape = model.inputs[0].shape.slice(1) as number[];
  const classes = model.outputs[0].shape[1] as number;
  const weightIo: GraphIo[] = [];
  const weights: TrainingGraph['weights'] = [];
  const trainable = new Set(model.trainableWeights);
  const int64 = (v: number[]) => b.int64([v.length], v);
  const scalar = (v: number) => b.float([], [v]);

  // Forward.
  let cur = b.node('Transpose', [TRAIN_X], { perm: [0, 3, 1, 2] });
  const saved: Saved[] = [];
  for (const { layer, inShape: shape } of layers) {
    const names = layer.weights.map((v, i) => {
      const input = `w${weights.length}_${layer.name}_${i}`;
      weights.push({ variable: v, input, gradient: !opts.forwardOnly && trainable.has(v) ? `grad_${input}` : null });
      weightIo.push({ name: input, shape: v.shape as number[] });
      return input;
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cfg = layer.getConfig() as Record<string, any>;
    const entry: Saved = { layer, input: cur, output: '', inShape: shape, weights: names };
    switch (layer.getClassName()) {
      case 'Conv2D': {
        const k = pair(cfg.kernelSize);
        const kernel = b.node('Transpose', [names[0]], { perm: [3, 2, 0, 1] });
        const z = b.node('Conv', cfg.useBias ? [cur, kernel, names[1]] : [cur, kernel], {
          kernel_shape: k, strides: [1, 1], pads: tfPads(cfg.padding, shape[0], shape[1], k, [1, 1]),
        });
        entry.output = cfg.activation === 'relu' ? b.node('Relu', [z]) : z;
        break;
      }
      case 'MaxPooling2D': {
        const k = pair(cfg.poolSize);
        entry.output = b.fresh('maxpool');
        entry.indices = b.fresh('argmax');
        b.nodes.push({ op: 'MaxPool', inputs: [cur], outputs: [entry.output, entry.indices], attributes: { kernel_shape: k, strides: k } });
        break;
      }
      case 'GlobalAveragePooling2D':
        entry.output = b.node('Flatten', [b.node('GlobalAveragePool', [cur])], { axis: 1 });
        break;
      case 'Dense': {
        const logits = b.node('MatMul', [cur, names[0]]);
        entry.output = b.node('Softmax', [cfg.useBias ? b.node('Add', [logits, names[1]]) : logits], { axis: -1 }, TRAIN_PROBS);
        break;
      }
    }
    saved.push(entry);
    cur = entry.output;
  }

  // Loss: mean over the batch of -sum(y * log(clip(p))).
  const lo = scalar(EPSILON);
  const hi = scalar(1 - EPSILON);
  const clipped = b.node('Clip', [TRAIN_PROBS, lo, hi]);
  const rowLoss = b.node('ReduceSum', [b.node('Mul', [TRAIN_Y, b.node('Log', [clipped])]), int64([-1])], { keepdims: 0 });
  b.node('Neg', [b.node('ReduceMean', [rowLoss], { axes: [0], keepdims: 0 })], {}, TRAIN_LOSS);

  const outputs: GraphIo[] = [{ name: TRAIN_LOSS, shape: [] }, { name: TRAIN_PROBS, shape: ['batch', classes] }];
  if (!opts.forwardOnly) {
    const gradOf = new Map<string, string>();
    // d loss / d probs: -y / (n * clip(p)), zero where the clip is active; then through the softmax.
    const n = b.node('Cast', [b.node('Gather', [b.node('Shape', [TRAIN_PROBS]), b.int64([], [0])], { axis: 0 })], { to: FLOAT });
    const inRange = b.node('Cast', [b.node('And', [b.node('GreaterOrEqual', [TRAIN_PROBS, lo]), b.node('LessOrEqual', [TRAIN_PROBS, hi])])], { to: FLOAT });
    const dProbs = b.node('Mul', [b.node('Div', [b.node('Neg', [TRAIN_Y]), b.node('Mul', [clipped, n])]), inRange]);
    const dot = b.node('ReduceSum', [b.node('Mul', [dProbs, TRAIN_PROBS]), int64([-1])], { keepdims: 1 });
    let grad = b.node('Mul', [TRAIN_PROBS, b.node('Sub', [dProbs, dot])]);

    for (let i = saved.length - 1; i >= 0; i--) {
      const s = saved[i];
      const needInput = i > 0;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const cfg = s.layer.getConfig() as Record<string, any>;
      switch (s.layer.getClassName()) {
        case 'Dense': {
          gradOf.set(s.weights[0], b.node('MatMul', [b.node('Transpose', [s.input], { perm: [1, 0] }), grad]));
          if (cfg.useBias) gradOf.set(s.weights[1], b.node('ReduceSum', [grad, int64([0])], { keepdims: 0 }));
          if (needInput) grad = b.node('MatMul', [grad, b.node('Transpose', [s.weights[0]], { perm: [1, 0] })]);
          break;
        }
        case 'GlobalAveragePooling2D': {
          const [h, w] = s.inShape;
          const spread = b.node('Mul', [b.node('Unsqueeze', [grad, int64([2, 3])]), scalar(1 / (h * w))]);
          grad = b.node('Expand', [spread, b.node('Shape', [s.input])]);
          break;
        }
        case 'MaxPooling2D': {
          const k = pair(cfg.poolSize);
          grad = b.node('MaxUnpool', [grad, s.indices!, b.node('Shape', [s.input])], { kernel_shape: k, strides: k });
          break;
        }
        case 'Conv2D': {
          if (cfg.activation === 'relu') grad = b.node('Mul', [grad, b.node('Cast', [b.node('Greater', [s.output, scalar(0)])], { to: FLOAT })]);
          const k = pair(cfg.kernelSize);
          const [h, w, cin] = s.inShape;
          const pads = tfPads(cfg.padding, h, w, k, [1, 1]);
          const [outH, outW] = [h + pads[0] + pads[2] - k[0] + 1, w + pads[1] + pads[3] - k[1] + 1];
          const cout = cfg.filters as number;
          if (cfg.useBias) gradOf.set(s.weights[1], b.node('ReduceSum', [grad, int64([0, 2, 3])], { keepdims: 0 }));
          // Kernel gradient as one matrix product per kernel tap: patches [cin, n*outH*outW] x dz [n*outH*outW, cout].
          const padded = pads.some((p) => p > 0) ? b.node('Pad', [s.input, int64([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]])]) : s.input;
          const channelsFirst = b.node('Transpose', [padded], { perm: [1, 0, 2, 3] });
          const dz = b.node('Reshape', [b.node('Transpose', [grad], { perm: [0, 2, 3, 1] }), int64([-1, cout])]);
          const taps: string[] = [];
          for (let dy = 0; dy < k[0]; dy++) {
            for (let dx = 0; dx < k[1]; dx++) {
              const patch = b.node('Slice', [channelsFirst, int64([dy, dx]), int64([dy + outH, dx + outW]), int64([2, 3])]);
              taps.push(b.node('MatMul', [b.node('Reshape', [patch, int64([cin, -1])]), dz]));
            }
          }
          gradOf.set(s.weights[0], b.node('Reshape', [b.node('Concat', taps, { axis: 0 }), int64([k[0], k[1], cin, cout])]));
          if (needInput) {
            const kernel = b.node('Transpose', [s.weights[0]], { perm: [3, 2, 0, 1] });
            grad = b.node('ConvTranspose', [grad, kernel], { kernel_shape: k, strides: [1, 1], pads });
          }
          break;
        }
      }
    }
    for (const w of weights) {
      if (w.gradient) {
        b.node('Identity', [gradOf.get(w.input)!], {}, w.gradient);
        outputs.push({ name: w.gradient, shape: w.variable.shape as number[] });
      }
    }
  }

  const bytes = encodeModel({
    name: `${model.name}_training_step`,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: TRAIN_X, shape: ['batch', ...inShape] }, { name: TRAIN_Y, shape: ['batch', classes] }, ...weightIo],
    outputs,
  });
  return { bytes, weights };
}

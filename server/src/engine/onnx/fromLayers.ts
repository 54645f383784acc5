import type * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../errors';
import { encodeModel, type Attribute, type Initializer, type OnnxGraph, type OnnxNode } from './onnxModel';
import type { ChannelAffine } from './preprocess';

type Sym = tfl.SymbolicTensor;
type Layer = tfl.layers.Layer;

export const ONNX_INPUT = 'image';

export interface OnnxConversion {
  bytes: Uint8Array;
  /** NHWC float32; [0,1] RGB when a preprocessing map was given. */
  inputName: string;
  /** One per model output, in order; rank-4 outputs are NHWC like the tfjs model's. */
  outputNames: string[];
}

/**
 * Writes a tfjs-layers functional model (the layer kinds of MobileNetV2, VGG16 and the classification head) as an
 * ONNX graph, weights included, read at call time. ONNX convolutions are NCHW: the graph transposes once after the
 * input and back before any rank-4 output. `preprocess` puts the backbone's input scaling in front.
 */
export async function layersToOnnx(model: tfl.LayersModel, preprocess: ChannelAffine | null, metadata: Record<string, string> = {}): Promise<OnnxConversion> {
  if (model.inputs.length !== 1) throw new CxrError('MODEL_INVALID', `ONNX export needs a single-input model; '${model.name}' has ${model.inputs.length}.`);
  const weights = await readWeights(model);
  const b = new GraphBuilder();
  const input = model.inputs[0];
  const [, h, w, c] = input.shape as (number | null)[];
  if (h == null || w == null || c == null) throw new CxrError('MODEL_INVALID', 'ONNX export needs a fixed input size.');
  let x = ONNX_INPUT;
  if (preprocess) {
    if (c !== 3) throw new CxrError('MODEL_INVALID', `Image preprocessing needs 3 input channels, the model has ${c}.`);
    if (preprocess.order.some((o, i) => o !== i)) x = b.node('Gather', [x, b.int64([3], preprocess.order)], { axis: 3 });
    x = b.node('Mul', [x, b.float([1], [preprocess.scale])]);
    x = b.node('Sub', [x, b.float([3], preprocess.offset)]);
  }
  const nchwInput = b.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  const names = new Map<number, { name: string; rank: number }>([[input.id, { name: nchwInput, rank: 4 }]]);

  const visit = (t: Sym): { name: string; rank: number } => {
    const known = names.get(t.id);
    if (known) return known;
    if (t.sourceLayer.getClassName() === 'InputLayer') {
      throw new CxrError('MODEL_INVALID', `'${model.name}' reads an input other than its own (${t.name}).`);
    }
    const ins = t.inputs.map(visit);
    const out = convertLayer(b, t.sourceLayer, weights.get(t.sourceLayer) ?? new Map(), ins.map((i) => i.name), t.inputs);
    names.set(t.id, out);
    return out;
  };

  const outputNames = model.outputs.map((o, i) => {
    const { name, rank } = visit(o);
    const final = `output_${i}`;
    if (rank === 4) b.node('Transpose', [name], { perm: [0, 2, 3, 1] }, final);
    else b.node('Identity', [name], {}, final);
    return final;
  });
  const graph: OnnxGraph = {
    name: model.name,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: ONNX_INPUT, shape: ['batch', h, w, c] }],
    outputs: model.outputs.map((o, i) => ({ name: outputNames[i], shape: ['batch', ...(o.shape.slice(1) as number[])] })),
  };
  return { bytes: encodeModel(graph, metadata), inputName: ONNX_INPUT, outputNames };
}

/** Collects nodes and constant initializers with fresh names (also used by onnx/trainingGraph.ts). */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: Initializer[] = [];
  private counter = 0;

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  node(op: string, inputs: string[], attributes: Record<string, Attribute> = {}, output?: string): string {
    const out = output ?? this.fresh(op.toLowerCase());
    this.nodes.push({ op, inputs, outputs: [out], attributes });
    return out;
  }

  float(dims: number[], data: ArrayLike<number>, hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, data: Float32Array.from(data) });
    return name;
  }

  int64(dims: number[], data: readonly number[]): string {
    const name = this.fresh('const');
    this.initializers.push({ name, dims, data: BigInt64Array.from(data.map((v) => BigInt(v))) });
    return name;
  }
}

type LayerWeights = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * Every layer's weights by their short name (kernel, bias, gamma, ...), read asynchronously: a GPU backend (webgpu)
 * has no synchronous read in Node.
 */
async function readWeights(model: tfl.LayersModel): Promise<Map<Layer, LayerWeights>> {
  const all = new Map<Layer, LayerWeights>();
  for (const layer of model.layers) {
    const values = layer.getWeights();
    const data = await Promise.all(values.map((v) => v.data() as Promise<Float32Array>));
    all.set(layer, new Map(layer.weights.map((w, i) => [w.originalName.split('/').pop()!, { shape: values[i].shape, data: data[i] }])));
  }
  return all;
}

/** A rank-4 array permuted like tf.transpose(x, perm). */
function permute4(data: Float32Array, shape: number[], perm: number[]): { shape: number[]; data: Float32Array } {
  const outShape = perm.map((p) => shape[p]);
  const strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const [s0, s1, s2, s3] = perm.map((p) => strides[p]);
  const out = new Float32Array(data.length);
  let o = 0;
  for (let a = 0; a < outShape[0]; a++) {
    for (let b = 0; b < outShape[1]; b++) {
      for (let c = 0; c < outShape[2]; c++) {
        for (let d = 0; d < outShape[3]; d++) out[o++] = data[a * s0 + b * s1 + c * s2 + d * s3];
      }
    }
  }
  return { shape: outShape, data: out };
}

export function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

/** ONNX pads [top, left, bottom, right] for TF's 'same' (extra padding at the end) or 'valid'. */
export function tfPads(padding: string, inH: number, inW: number, k: [number, number], s: [number, number]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const one = (size: number, kk: number, ss: number): [number, number] => {
    const out = Math.ceil(size / ss);
    const total = Math.max((out - 1) * ss + kk - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [t, bottom] = one(inH, k[0], s[0]);
  const [l, r] = one(inW, k[1], s[1]);
  return [t, l, bottom, r];
}

function activation(b: GraphBuilder, x: string, name: string, rank: number, layer: Layer): string {
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return b.node('Relu', [x]);
    case 'softmax':
      if (rank !== 2) break;
      return b.node('Softmax', [x], { axis: -1 });
  }
  throw unsupported(layer, `activation '${name}'`);
}

function unsupported(layer: Layer, what: string): CxrError {
  return new CxrError('MODEL_INVALID', `The ONNX writer does not cover ${what} (layer '${layer.name}', ${layer.getClassName()}).`);
}

/** Layers that are the identity at inference time. */
const IDENTITY_AT_INFERENCE = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

function convertLayer(b: GraphBuilder, layer: Layer, w: LayerWeights, inputs: string[], inSyms: Sym[]): { name: string; rank: number } {
  const kind = layer.getClassName();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const cfg = layer.getConfig() as Record<string, any>;
  const inShape = inSyms[0].shape as number[];
  const rank4 = (name: string) => ({ name, rank: 4 });
  if (IDENTITY_AT_INFERENCE.has(kind)) return { name: inputs[0], rank: inSyms[0].rank };
  if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${cfg.dataFormat}`);
  switch (kind) {
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const k = pair(cfg.kernelSize);
      const s = pair(cfg.strides);
      const d = pair(cfg.dilationRate ?? 1);
      if (d[0] !== 1 || d[1] !== 1) throw unsupported(layer, 'dilated convolution');
      const depthwise = kind === 'DepthwiseConv2D';
      const kernel = w.get(depthwise ? 'depthwise_kernel' : 'kernel')!;
      // tfjs [kh, kw, in, out] -> ONNX [out, in, kh, kw]; depthwise [kh, kw, in, mult] -> [in*mult, 1, kh, kw].
      const permuted = permute4(kernel.data, kernel.shape, depthwise ? [2, 3, 0, 1] : [3, 2, 0, 1]);
      const onnxShape = depthwise ? [permuted.shape[0] * permuted.shape[1], 1, permuted.shape[2], permuted.shape[3]] : permuted.shape;
      const kernelName = b.float(onnxShape, permuted.data, `${layer.name}_kernel`);
      const convInputs = [inputs[0], kernelName];
      if (cfg.useBias) convInputs.push(b.float([w.get('bias')!.data.length], w.get('bias')!.data, `${layer.name}_bias`));
      const attrs: Record<string, Attribute> = {
        kernel_shape: k,
        strides: s,
        pads: tfPads(cfg.padding, inShape[1], inShape[2], k, s),
      };
      if (depthwise) attrs.group = inShape[3];
      return rank4(activation(b, b.node('Conv', convInputs, attrs), cfg.activation, 4, layer));
    }
    case 'BatchNormalization': {
      if (cfg.axis !== -1 && cfg.axis !== 3) throw unsupported(layer, `batch normalisation on axis ${cfg.axis}`);
      const channels = inShape[3];
      const ones = new Float32Array(channels).fill(1);
      const zeros = new Float32Array(channels);
      const get = (n: string, fallback: Float32Array) => b.float([channels], w.get(n)?.data ?? fallback, `${layer.name}_${n}`);
      return rank4(b.node('BatchNormalization', [inputs[0], get('gamma', ones), get('beta', zeros), get('moving_mean', zeros), get('moving_variance', ones)], {
        epsilon: { float: cfg.epsilon },
      }));
    }
    case 'ReLU': {
      if ((cfg.negativeSlope ?? 0) !== 0 || (cfg.threshold ?? 0) !== 0) throw unsupported(layer, 'leaky or thresholded ReLU');
      if (cfg.maxValue == null) return { name: b.node('Relu', [inputs[0]]), rank: inSyms[0].rank };
      return { name: b.node('Clip', [inputs[0], b.float([], [0]), b.float([], [cfg.maxValue])]), rank: inSyms[0].rank };
    }
    case 'Activation':
      return { name: activation(b, inputs[0], cfg.activation, inSyms[0].rank, layer), rank: inSyms[0].rank };
    case 'ZeroPadding2D': {
      const [[t, bottom], [l, r]] = cfg.padding as [[number, number], [number, number]];
      return rank4(b.node('Pad', [inputs[0], b.int64([8], [0, 0, t, l, 0, 0, bottom, r])]));
    }
    case 'Add':
      return { name: inputs.slice(1).reduce((acc, x) => b.node('Add', [acc, x]), inputs[0]), rank: inSyms[0].rank };
    case 'GlobalAveragePooling2D':
      return { name: b.node('Flatten', [b.node('GlobalAveragePool', [inputs[0]])], { axis: 1 }), rank: 2 };
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const k = pair(cfg.poolSize);
      const s = pair(cfg.strides ?? cfg.poolSize);
      const attrs: Record<string, Attribute> = { kernel_shape: k, strides: s, pads: tfPads(cfg.padding, inShape[1], inShape[2], k, s) };
      if (kind === 'AveragePooling2D') attrs.count_include_pad = 0;
      return rank4(b.node(kind === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [inputs[0]], attrs));
    }
    case 'Dense': {
      if (inSyms[0].rank !== 2) throw unsupported(layer, 'Dense on a rank-' + inSyms[0].rank + ' input');
      const kernel = w.get('kernel')!;
      let y = b.node('MatMul', [inputs[0], b.float(kernel.shape, kernel.data, `${layer.name}_kernel`)]);
      if (cfg.useBias) y = b.node('Add', [y, b.float([w.get('bias')!.data.length], w.get('bias')!.data, `${layer.name}_bias`)]);
      return { name: activation(b, y, cfg.activation, 2, layer), rank: 2 };
    }
  }
  throw unsupported(layer, `layer kind ${kind}`);
}

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * MobileNetV2 (alpha 1.0) built layer for layer as tf.keras 2.x `keras.applications.MobileNetV2` builds it, with the
 * same layer and weight names, so Keras / TF.js weight files load by name. Inference-mode outputs match Keras.
 */

const BN_ARGS = { epsilon: 1e-3, momentum: 0.999 } as const;

/** (filters, stride, expansion) of inverted residual blocks 0..16, from Keras Applications. */
const BLOCKS: ReadonlyArray<readonly [number, number, number]> = [
  [16, 1, 1],
  [24, 2, 6], [24, 1, 6],
  [32, 2, 6], [32, 1, 6], [32, 1, 6],
  [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
  [96, 1, 6], [96, 1, 6], [96, 1, 6],
  [160, 2, 6], [160, 1, 6], [160, 1, 6],
  [320, 1, 6],
];

type Sym = tfl.SymbolicTensor;

function channels(x: Sym): number {
  return x.shape[x.shape.length - 1] as number;
}

/** Keras `imagenet_utils.correct_pad` for a 3x3 kernel: ((0,1),(0,1)) on even sizes, ((1,1),(1,1)) on odd/unknown. */
function correctPad(x: Sym): [[number, number], [number, number]] {
  const [h, w] = [x.shape[1], x.shape[2]];
  const adjust = (size: number | null) => (size == null ? 1 : 1 - (size % 2));
  return [[1 - adjust(h), 1], [1 - adjust(w), 1]];
}

/** Kernel initialisers: random (Keras's defaults), or zeros when every weight is set from a file right after building. */
type Init = { kernelInitializer?: 'zeros' };

export function kernelInit(opts: BuildOptions): Init {
  return opts.weightsFollow ? { kernelInitializer: 'zeros' } : {};
}

function conv(x: Sym, filters: number, kernelSize: number, strides: number, name: string, init: Init): Sym {
  return tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, name, ...init }).apply(x) as Sym;
}

function bn(x: Sym, name: string): Sym {
  return tfl.layers.batchNormalization({ ...BN_ARGS, name }).apply(x) as Sym;
}

function relu6(x: Sym, name: string): Sym {
  return tfl.layers.reLU({ maxValue: 6, name }).apply(x) as Sym;
}

function invertedResBlock(inputs: Sym, filters: number, stride: number, expansion: number, blockId: number, init: Init): Sym {
  const inChannels = channels(inputs);
  let x = inputs;
  let prefix = `block_${blockId}_`;
  if (blockId > 0) {
    x = conv(x, expansion * inChannels, 1, 1, `${prefix}expand`, init);
    x = bn(x, `${prefix}expand_BN`);
    x = relu6(x, `${prefix}expand_relu`);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) x = tfl.layers.zeroPadding2d({ padding: correctPad(x), name: `${prefix}pad` }).apply(x) as Sym;
  x = tfl.layers
    .depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      depthMultiplier: 1,
      useBias: false,
      padding: stride === 1 ? 'same' : 'valid',
      name: `${prefix}depthwise`,
      ...(init.kernelInitializer ? { depthwiseInitializer: init.kernelInitializer } : {}),
    })
    .apply(x) as Sym;
  x = bn(x, `${prefix}depthwise_BN`);
  x = relu6(x, `${prefix}depthwise_relu`);
  x = conv(x, filters, 1, 1, `${prefix}project`, init);
  x = bn(x, `${prefix}project_BN`);
  if (inChannels === filters && stride === 1) return tfl.layers.add({ name: `${prefix}add` }).apply([inputs, x]) as Sym;
  return x;
}

export interface BuildOptions {
  inputSize?: number;
  includeTop?: boolean;
  /**
   * Every weight is set from a file right after building (a run's model, pretrained weights loaded in full): the
   * kernels start as zeros instead of drawing millions of random numbers that would be overwritten at once.
   */
  weightsFollow?: boolean;
}

export function buildMobileNetV2(opts: BuildOptions = {}): tfl.LayersModel {
  const size = opts.inputSize ?? 224;
  const init = kernelInit(opts);
  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  let x = conv(input, 32, 3, 2, 'Conv1', init);
  x = bn(x, 'bn_Conv1');
  x = relu6(x, 'Conv1_relu');
  BLOCKS.forEach(([filters, stride, expansion], id) => {
    x = invertedResBlock(x, filters, stride, expansion, id, init);
  });
  x = conv(x, 1280, 1, 1, 'Conv_1', init);
  x = bn(x, 'Conv_1_bn');
  x = relu6(x, 'out_relu');
  if (opts.includeTop) {
    x = tfl.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as Sym;
    x = tfl.layers.dense({ units: 1000, activation: 'softmax', name: 'predictions', ...init }).apply(x) as Sym;
  }
  return tfl.model({ inputs: input, outputs: x, name: `mobilenetv2_1.00_${size}` });
}

/** Keras `mobilenet_v2.preprocess_input` ("tf" mode) from [0,1] RGB: x * 2 - 1, i.e. x/127.5 - 1 on 0..255. */
export function preprocessMobileNetV2(unitRgb: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(unitRgb, 2), 1) as tf.Tensor4D);
}

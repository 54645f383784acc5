import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { kernelInit, type BuildOptions } from './mobilenetV2';

/** VGG16 as `keras.applications.VGG16` builds it (Keras layer names, ReLU inside the convs, 2x2 max pools). */

type Sym = tfl.SymbolicTensor;

/** Filters per conv block and the number of convs in it. */
const BLOCKS: ReadonlyArray<readonly [number, number]> = [[64, 2], [128, 2], [256, 3], [512, 3], [512, 3]];

/** ImageNet channel means in BGR order, as Keras `imagenet_utils.preprocess_input(mode='caffe')` subtracts them. */
const CAFFE_BGR_MEAN = [103.939, 116.779, 123.68];

export function buildVgg16(opts: BuildOptions = {}): tfl.LayersModel {
  const size = opts.inputSize ?? 224;
  const init = kernelInit(opts);
  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  let x: Sym = input;
  BLOCKS.forEach(([filters, convs], b) => {
    for (let c = 1; c <= convs; c++) {
      x = tfl.layers
        .conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `block${b + 1}_conv${c}`, ...init })
        .apply(x) as Sym;
    }
    x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }).apply(x) as Sym;
  });
  if (opts.includeTop) {
    x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as Sym;
    x = tfl.layers.dense({ units: 4096, activation: 'relu', name: 'fc1', ...init }).apply(x) as Sym;
    x = tfl.layers.dense({ units: 4096, activation: 'relu', name: 'fc2', ...init }).apply(x) as Sym;
    x = tfl.layers.dense({ units: 1000, activation: 'softmax', name: 'predictions', ...init }).apply(x) as Sym;
  }
  return tfl.model({ inputs: input, outputs: x, name: 'vgg16' });
}

/** Keras 'caffe' preprocessing from [0,1] RGB: scale to 0..255, RGB -> BGR, subtract the ImageNet BGR mean. */
export function preprocessVgg16(unitRgb: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const bgr = tf.reverse(tf.mul(unitRgb, 255), -1);
    return tf.sub(bgr, tf.tensor1d(CAFFE_BGR_MEAN)) as tf.Tensor4D;
  });
}

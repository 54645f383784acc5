import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AugmentParams, BackboneId } from '../api';
import { CxrError } from '../errors';
import { weightSearchDirs } from '../locations';
import { KERAS_NOTOP_FILES } from '../names';
import { buildMobileNetV2, preprocessMobileNetV2, type BuildOptions } from './mobilenetV2';
import { buildVgg16, preprocessVgg16 } from './vgg16';

export interface TrainingRecipe {
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  augment: AugmentParams | null;
}

export interface BackboneSpec {
  id: BackboneId;
  displayName: string;
  defaultInputSize: number;
  /** Conv base with Keras Applications (tf.keras 2.x) layer names, ending at featureLayer; includeTop adds the ImageNet top. */
  build(opts?: BuildOptions): tfl.LayersModel;
  /** [0,1] RGB NHWC -> this backbone's input convention. */
  preprocess(unitRgb: tf.Tensor4D): tf.Tensor4D;
  featureLayer: string;
  /** This layer and everything before it stays frozen by default. */
  defaultFreezeAt: string;
  recipe: TrainingRecipe;
  /** Weight files this backbone is known by, relative to modelsDir(), in order of preference. */
  knownWeights: { noTop: string[]; withTop: string[] };
}

/** The method's augmentation: rotation 10 degrees, width/height shift 0.2, zoom 0.2. */
export const METHOD_AUGMENTATION: AugmentParams = Object.freeze({ rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 });

/** The method's recipe: SGD 3e-3 momentum 0.9, 20 epochs of 32, Keras ImageDataGenerator-style augmentation. */
const METHOD_RECIPE: TrainingRecipe = {
  epochs: 20,
  batchSize: 32,
  learningRate: 3e-3,
  momentum: 0.9,
  augment: METHOD_AUGMENTATION,
};

/**
 * MobileNetV2 keeps its whole ImageNet base frozen and trains the head on features computed once per image, without
 * augmentation. Measured on the Kaggle set (BENCHMARKS.md): with augmentation the frozen base must run every epoch
 * (12.5 min here) and scored worse (53/66 against 62-65/66 without); Keras found that unfreezing blocks 15-16 or 13-16
 * overfits these 251 images (0.818 / 0.606, ../shared/notes/anchors.md).
 */
const MOBILENET_RECIPE: TrainingRecipe = { ...METHOD_RECIPE, augment: null };

const VGG16_NOTOP = KERAS_NOTOP_FILES.vgg16;
const VGG16_TOP = 'vgg16_weights_tf_dim_ordering_tf_kernels.h5';
const MOBILENET_NOTOP_H5 = KERAS_NOTOP_FILES.mobilenet_v2;
const MOBILENET_TOP_H5 = 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5';

export const BACKBONES: Readonly<Record<BackboneId, BackboneSpec>> = Object.freeze({
  mobilenet_v2: {
    id: 'mobilenet_v2',
    displayName: 'MobileNetV2 (alpha 1.0)',
    defaultInputSize: 224,
    build: buildMobileNetV2,
    preprocess: preprocessMobileNetV2,
    featureLayer: 'out_relu',
    defaultFreezeAt: 'out_relu',
    recipe: MOBILENET_RECIPE,
    knownWeights: {
      noTop: [
        'mobilenet_v2_imagenet/mobilenet_v2_1.0_224_no_top/weights_manifest.json',
        `mobilenet_v2_imagenet/keras-h5/${MOBILENET_NOTOP_H5}`,
        MOBILENET_NOTOP_H5,
      ],
      withTop: [
        'mobilenet_v2_imagenet/mobilenet_v2_1.0_224/weights_manifest.json',
        `mobilenet_v2_imagenet/keras-h5/${MOBILENET_TOP_H5}`,
        MOBILENET_TOP_H5,
      ],
    },
  },
  vgg16: {
    id: 'vgg16',
    displayName: 'VGG16',
    defaultInputSize: 224,
    build: buildVgg16,
    preprocess: preprocessVgg16,
    featureLayer: 'block5_pool',
    // The method freezes layers[:-8] of the Keras model (input_1 .. block3_pool); block4 and block5 train.
    defaultFreezeAt: 'block3_pool',
    recipe: METHOD_RECIPE,
    knownWeights: {
      noTop: [VGG16_NOTOP, `vgg16_imagenet/${VGG16_NOTOP}`],
      withTop: [VGG16_TOP, `vgg16_imagenet/${VGG16_TOP}`],
    },
  },
});

export function getBackbone(id: string): BackboneSpec {
  if (Object.prototype.hasOwnProperty.call(BACKBONES, id)) return BACKBONES[id as BackboneId];
  throw new CxrError('INVALID_ARGUMENT', `Unknown backbone '${id}'. Valid backbones: ${Object.keys(BACKBONES).join(', ')}.`, {
    backbone: id,
    valid: Object.keys(BACKBONES),
  });
}

/**
 * The first known weight file of the backbone, as an absolute path: searched under modelsDir(), then the user's
 * models folder ("Get Backbone Weights"), then the weights packaged inside the extension.
 */
export function findKnownWeights(spec: BackboneSpec, kind: 'noTop' | 'withTop'): string | null {
  for (const dir of weightSearchDirs()) {
    for (const rel of spec.knownWeights[kind]) {
      const file = path.join(dir, rel);
      if (fs.existsSync(file)) return file;
    }
  }
  return null;
}

import * as tf from '@tensorflow/tfjs-core';
import { CxrError } from '../../errors';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Pair = number | [number, number];

export interface ConvAttrsLike {
  strides: Pair;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: Pair;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Everything the composite gradient kernels need about one 2-D convolution, NHWC. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  /** Output channels of the forward conv (inC * multiplier for depthwise). */
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** Whether the attrs fall inside what the composites support: NHWC and dilation 1. */
export function unsupportedReason(attrs: ConvAttrsLike): string | null {
  if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC') return `dataFormat ${attrs.dataFormat} (only NHWC)`;
  const d = attrs.dilations ?? 1;
  const [dh, dw] = typeof d === 'number' ? [d, d] : d;
  if (dh !== 1 || dw !== 1) return `dilations [${dh}, ${dw}] (only 1)`;
  return null;
}

export function convGeometry(
  kernelName: string,
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrsLike,
  depthwise: boolean,
): ConvGeometry {
  const reason = unsupportedReason(attrs);
  if (reason != null) {
    throw new CxrError(
      'INVALID_ARGUMENT',
      `${kernelName} on the wasm backend does not support ${reason}. ` +
        'Use NHWC convolutions without dilation for training, or run on another backend (CXR_BACKEND=cpu).',
      { kernelName },
    );
  }
  if (xShape.length !== 4 || filterShape.length !== 4) {
    throw new CxrError('INVALID_ARGUMENT', `${kernelName}: expected rank-4 input and filter, got [${xShape}] and [${filterShape}]`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padBottom: info.padInfo.bottom,
    padLeft: info.padInfo.left,
    padRight: info.padInfo.right,
  };
}

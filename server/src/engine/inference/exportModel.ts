import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ExportRequest, ExportResult } from '../api';
import { CxrError } from '../errors';
import { EXPORT_FORMATS } from '../names';
import { layersToOnnx } from '../onnx/fromLayers';
import { ONNX_PREPROCESS, type ChannelAffine } from '../onnx/preprocess';
import { writeFileAtomic } from '../util/atomic';
import type { LoadedRun } from './runModel';

/**
 * Writes a trained run as a standalone model that takes what the decoder produces, NHWC float32 RGB in [0,1] at the
 * run's input size (the backbone's own scaling is inside), and outputs the probabilities in the run's class order.
 * onnx: one .onnx file (class names in its metadata). tfjs: a folder with model.json and weights.bin.
 */
export async function exportRun(loaded: LoadedRun, req: ExportRequest): Promise<Omit<ExportResult, 'modelCard'>> {
  const { config, spec } = loaded;
  const format = req.format;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CxrError('INVALID_ARGUMENT', `Unknown export format '${String(format)}': use ${EXPORT_FORMATS.join(' or ')}.`);
  }
  const out = path.resolve(req.out ?? path.join(loaded.runDir, 'export', format === 'onnx' ? 'model.onnx' : 'tfjs'));
  const input = { name: 'image', shape: [null, config.imageSize, config.imageSize, 3] as (number | null)[], range: '[0, 1] RGB, NHWC float32' };
  const base = { format, path: out, classes: config.classes, input, output: 'probabilities, in class order' };
  if (format === 'onnx') {
    const conversion = await layersToOnnx(loaded.model, ONNX_PREPROCESS[spec.id], { classes: JSON.stringify(config.classes), backbone: spec.id });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    writeFileAtomic(out, Buffer.from(conversion.bytes));
    return { ...base, input: { ...input, name: conversion.inputName }, outputName: conversion.outputNames[0] };
  }
  const wrapped = withPreprocessing(loaded.model, ONNX_PREPROCESS[spec.id], config.imageSize);
  try {
    fs.mkdirSync(out, { recursive: true });
    await wrapped.save(tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
      writeFileAtomic(path.join(out, 'weights.bin'), Buffer.from(weights));
      const manifest = {
        format: 'layers-model',
        generatedBy: 'cxr-studio',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        userDefinedMetadata: { classes: config.classes, backbone: spec.id },
      };
      writeFileAtomic(path.join(out, 'model.json'), JSON.stringify(manifest));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
  } finally {
    // Only the added scaling layer's weights belong to the wrapper; the run's layers stay with the caller's model.
    wrapped.getLayer(PREPROCESS_LAYER).dispose();
  }
  return { ...base, path: out, outputName: wrapped.outputNames[0] };
}

const PREPROCESS_LAYER = 'cxr_preprocess';

/**
 * [0,1] RGB -> the backbone's convention as a fixed 1x1 convolution (channel order, scale, offset: exact, each output
 * is one product and one sum), then the run's model. tfjs-layers has no layer for a channel swap.
 */
function withPreprocessing(model: tfl.LayersModel, p: ChannelAffine, size: number): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 3], name: 'image' });
  const kernel = new Float32Array(9);
  p.order.forEach((from, to) => (kernel[from * 3 + to] = p.scale));
  const conv = tfl.layers.conv2d({
    filters: 3, kernelSize: 1, name: PREPROCESS_LAYER, trainable: false,
    weights: [tf.tensor4d(kernel, [1, 1, 3, 3]), tf.tensor1d(p.offset.map((o) => -o))],
  });
  const scaled = conv.apply(input) as tfl.SymbolicTensor;
  const probs = model.apply(scaled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: probs, name: `${model.name}_export` });
}

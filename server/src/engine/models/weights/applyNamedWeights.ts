import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CxrError } from '../../errors';
import { identifyBackbone } from './identifyBackbone';
import { keras3Layout, keyKeras3ByModel } from './keras3Layout';
import { weightsSource, type NamedWeights } from './namedWeights';

export interface ApplyWeightsOptions {
  /** Leave model weights the file lacks at their current values (e.g. a new classification head). */
  allowMissing?: boolean;
  /** 'layer/weight' names to leave out on both sides (e.g. name => name.startsWith('predictions/')). */
  ignore?: (name: string) => boolean;
  /** Where the weights came from, for messages (default: the file readWeightsFile read them from). */
  source?: string;
}

export interface ApplyWeightsReport {
  loaded: string[];
  missing: string[];
  unused: string[];
}

type Layer = tfl.LayersModel['layers'][number];

interface Target {
  key: string;
  layer: string;
  weight: string;
  variable: tfl.LayerVariable;
}

/** Every weight of the model as 'layer/weight', descending into nested models so inner layer names are used. */
function modelTargets(layers: Layer[], out: Target[] = []): Target[] {
  for (const layer of layers) {
    if (layer instanceof tfl.LayersModel) {
      modelTargets(layer.layers, out);
      continue;
    }
    for (const variable of layer.weights) {
      const weight = variable.originalName.split('/').pop() as string;
      out.push({ key: `${layer.name}/${weight}`, layer: layer.name, weight, variable });
    }
  }
  return out;
}

/** Finds the stored name for a model weight: exact, else a unique '.../layer/weight' suffix, else Keras 3's depthwise 'kernel'. */
function makeLookup(weights: NamedWeights): (layer: string, weight: string) => string | undefined {
  const bySuffix = new Map<string, string[]>();
  for (const name of weights.keys()) {
    const suffix = name.split('/').slice(-2).join('/');
    bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), name]);
  }
  const find = (key: string) => (weights.has(key) ? key : bySuffix.get(key)?.length === 1 ? bySuffix.get(key)![0] : undefined);
  return (layer, weight) => find(`${layer}/${weight}`) ?? (weight === 'depthwise_kernel' ? find(`${layer}/kernel`) : undefined);
}

const sameShape = (a: readonly number[], b: readonly (number | null)[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const shapeText = (shape: readonly (number | null)[]) => `[${shape.join(', ')}]`;

function preview(names: string[], n = 8): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

function missingError(model: tfl.LayersModel, weights: NamedWeights, missing: string[], considered: number, source: string): CxrError {
  if (missing.length * 2 > considered) {
    const looksLike = identifyBackbone(weights.keys());
    const guess = looksLike ? `The file looks like ${looksLike} weights.` : 'Its weight names match no backbone this project knows.';
    return new CxrError(
      'WEIGHTS_INVALID',
      `${source} does not fit model '${model.name}': ${missing.length} of its ${considered} weights are missing from it (e.g. ${preview(missing, 4)}). ${guess} Pass weights made for this backbone, or pick the backbone the file was made for.`,
      { missing: missing.length, expected: considered, looksLike },
    );
  }
  return new CxrError(
    'WEIGHTS_INVALID',
    `${source} lacks ${missing.length} of the ${considered} weights of model '${model.name}': ${preview(missing)}. Use complete weights for this backbone (or allowMissing for a deliberate partial load).`,
    { missing },
  );
}

/**
 * Loads weights into a model by layer name + weight name (shapes checked); a Keras 3 file's groups, which carry
 * class and order instead of names, are first matched to the model's layers (keras3Layout.ts). Nothing is written unless every
 * check passes. Weights in the file that the model lacks (e.g. a top) are reported as unused, not an error.
 */
export function applyNamedWeights(model: tfl.LayersModel, fileWeights: NamedWeights, opts: ApplyWeightsOptions = {}): ApplyWeightsReport {
  const ignore = opts.ignore ?? (() => false);
  const source = opts.source ?? weightsSource(fileWeights) ?? 'The weights';
  const layout = keras3Layout(fileWeights);
  const weights = layout ? keyKeras3ByModel(model, fileWeights, layout, source) : fileWeights;
  const lookup = makeLookup(weights);
  const targets = modelTargets(model.layers).filter((t) => !ignore(t.key));
  const assignments: Array<[Target, tf.Tensor]> = [];
  const missing: string[] = [];
  const used = new Set<string>();
  for (const target of targets) {
    const stored = lookup(target.layer, target.weight);
    if (stored === undefined) {
      missing.push(target.key);
      continue;
    }
    const tensor = weights.get(stored) as tf.Tensor;
    if (!sameShape(tensor.shape, target.variable.shape)) {
      throw new CxrError(
        'WEIGHTS_INVALID',
        `${source}: weight '${stored}' has shape ${shapeText(tensor.shape)} but layer '${target.layer}' of model '${model.name}' expects ${shapeText(target.variable.shape)} for '${target.weight}'. The file was made for another configuration of the network (input channels, width, classes).`,
        { layer: target.layer, weight: target.weight, expected: target.variable.shape, actual: tensor.shape },
      );
    }
    assignments.push([target, tensor]);
    used.add(stored);
  }
  if (targets.length > 0 && (assignments.length === 0 || (missing.length > 0 && !opts.allowMissing))) {
    throw missingError(model, weights, missing, targets.length, source);
  }
  for (const [target, tensor] of assignments) {
    const value = tensor.dtype === target.variable.dtype ? tensor : tf.cast(tensor, target.variable.dtype);
    target.variable.write(value);
    if (value !== tensor) value.dispose();
  }
  const unused = [...weights.keys()].filter((name) => !used.has(name) && !ignore(name));
  return { loaded: assignments.map(([t]) => t.key), missing, unused };
}

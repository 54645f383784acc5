/**
 * Names the weights inside one Keras layer of an HDF5 file. Recognised names win ('bn_Conv1/gamma:0' -> gamma;
 * Keras-1 'block1_conv1_W_1:0' -> kernel); otherwise Keras's per-layer order, told apart by shape. A 4-D kernel is
 * called 'kernel' even for DepthwiseConv2D (as Keras 3 does): applyNamedWeights accepts it for 'depthwise_kernel'.
 */

const KNOWN = new Set(['kernel', 'bias', 'depthwise_kernel', 'pointwise_kernel', 'gamma', 'beta', 'moving_mean', 'moving_variance']);

/** Keras 1 suffixes ('<layer>_W_1:0'). running_std held the variance in the Keras-1 TensorFlow backend. */
const KERAS1: Record<string, string> = { W: 'kernel', b: 'bias', gamma: 'gamma', beta: 'beta', running_mean: 'moving_mean', running_std: 'moving_variance' };

/** The 'layer/weight' key a stored weight name stands for, or null when the name says nothing usable. */
export function recogniseWeightName(layer: string, stored: string): string | null {
  const parts = stored.replace(/:\d+$/, '').split('/').filter((p) => p.length > 0);
  const last = parts[parts.length - 1] ?? '';
  if (KNOWN.has(last)) return `${parts.length >= 2 ? parts[parts.length - 2] : layer}/${last}`;
  if (last.startsWith(`${layer}_`)) {
    const suffix = last.slice(layer.length + 1).replace(/_\d+$/, '');
    if (suffix in KERAS1) return `${layer}/${KERAS1[suffix]}`;
  }
  return null;
}

/** Keras's weight order per layer type, guessed from the shapes: BN (4 vectors), Conv/Dense (kernel[, bias]). */
export function positionalWeightNames(shapes: number[][]): string[] {
  if (shapes.length === 4 && shapes.every((s) => s.length === 1)) return ['gamma', 'beta', 'moving_mean', 'moving_variance'];
  if ((shapes.length === 1 || shapes.length === 2) && shapes[0].length >= 2 && (shapes.length === 1 || shapes[1].length === 1)) {
    return ['kernel', 'bias'].slice(0, shapes.length);
  }
  return shapes.map((_, i) => `weight_${i}`);
}

/**
 * Keys for all weights of one layer group: by name when every name is recognised (and distinct), else by order.
 * Weight names that all carry one other layer name (a layer renamed after its weights were created) take the
 * group's name, as Keras's own loader does; several inner layer names mean a nested model, whose names are kept.
 */
export function layerWeightKeys(layer: string, storedNames: string[], shapes: number[][]): string[] {
  const recognised = storedNames.map((n) => recogniseWeightName(layer, n));
  if (!recognised.every((k): k is string => k !== null) || new Set(recognised).size !== recognised.length) {
    return positionalWeightNames(shapes).map((w) => `${layer}/${w}`);
  }
  const innerLayers = new Set(recognised.map((k) => k.slice(0, k.lastIndexOf('/'))));
  if (innerLayers.size > 1) return recognised;
  return recognised.map((k) => `${layer}/${k.slice(k.lastIndexOf('/') + 1)}`);
}

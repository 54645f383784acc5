import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * The layers a model can be cut at (models/split.ts splitModelAt): those where nothing after the layer reads a tensor
 * from before it, i.e. block boundaries, never the inside of a residual block. In the model's layer order, the input
 * layer left out. These are the freeze points a training form offers.
 */
export function freezePoints(model: tfl.LayersModel): string[] {
  const layers = model.layers;
  const index = new Map(layers.map((l, i) => [l, i]));
  // lastUse[j]: the last layer (by index) that reads layer j's output.
  const lastUse = layers.map((_, j) => j);
  layers.forEach((layer, i) => {
    for (const node of layer.inboundNodes.slice(0, 1)) {
      for (const source of node.inboundLayers) {
        const j = index.get(source);
        if (j !== undefined && i > lastUse[j]) lastUse[j] = i;
      }
    }
  });
  const points: string[] = [];
  let reach = 0; // the furthest layer that reads any output of layers before i
  for (let i = 0; i < layers.length; i++) {
    if (i > 0 && reach <= i) points.push(layers[i].name);
    reach = Math.max(reach, lastUse[i]);
  }
  return points;
}

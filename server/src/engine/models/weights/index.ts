export { applyNamedWeights, type ApplyWeightsOptions, type ApplyWeightsReport } from './applyNamedWeights';
export { identifyBackbone } from './identifyBackbone';
export { disposeNamedWeights, type NamedWeights } from './namedWeights';
export { readWeightsFile } from './readWeightsFile';

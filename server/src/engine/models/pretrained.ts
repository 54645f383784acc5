import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../errors';
import { findKnownWeights, type BackboneSpec } from './registry';

/**
 * The pretrained (no-top) weights file for a backbone: the user's file when given (it must exist), else the first
 * known file found under the models folder, else null (the caller warns loudly and trains from random weights).
 */
export function resolvePretrainedWeights(spec: BackboneSpec, explicit?: string): string | null {
  if (explicit) {
    const file = path.resolve(explicit);
    if (!fs.existsSync(file)) {
      throw new CxrError('NOT_FOUND', `Weights file not found: ${file}. Pass a TF.js weights_manifest.json (or its folder), a Keras .h5 / .weights.h5 file or a .keras archive.`);
    }
    return file;
  }
  return findKnownWeights(spec, 'noTop');
}

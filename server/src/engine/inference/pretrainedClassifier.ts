import * as fs from 'node:fs';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackboneId } from '../api';
import { CxrError } from '../errors';
import { getBackbone, type BackboneSpec } from '../models/registry';
import { applyNamedWeights, readWeightsFile } from '../models/weights';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { readTextFileSync } from '../util/safeRead';

/** One label per line (e.g. the 1000 ImageNet labels); line i is output index i. */
export function loadLabels(file: string): string[] {
  if (!fs.existsSync(file)) throw new CxrError('NOT_FOUND', `Labels file not found: ${file}`);
  const labels = readTextFileSync(file, 'labels file').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length < 2) throw new CxrError('INVALID_ARGUMENT', `Labels file ${file} must list at least two labels, one per line.`);
  return labels;
}

/** A backbone with its original (e.g. ImageNet) top, loaded from with-top weights. */
export async function loadPretrainedClassifier(
  backbone: BackboneId,
  weightsFile: string,
  numLabels: number,
  policy: PathPolicy = UNRESTRICTED,
): Promise<{ model: tfl.LayersModel; spec: BackboneSpec; inputSize: number }> {
  const spec = getBackbone(backbone);
  const model = spec.build({ includeTop: true, inputSize: spec.defaultInputSize });
  const units = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (units !== numLabels) {
    model.dispose();
    throw new CxrError('INVALID_ARGUMENT', `The ${spec.displayName} top has ${units} outputs but the labels file lists ${numLabels}.`);
  }
  const named = await readWeightsFile(weightsFile, policy);
  try {
    applyNamedWeights(model, named);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    named.forEach((t) => t.dispose());
  }
  return { model, spec, inputSize: spec.defaultInputSize };
}

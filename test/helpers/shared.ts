import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataDir, modelsDir, sharedDir } from '../../server/src/engine/locations';

export const CI_TINY = path.join(dataDir(), 'ci-tiny');
export const COVID19 = path.join(dataDir(), 'covid19-dataset');
export const DICOM_SAMPLES = path.join(dataDir(), 'dicom-samples');
export const MOBILENET_DIR = path.join(modelsDir(), 'mobilenet_v2_imagenet');
export const MOBILENET_TOP_MANIFEST = path.join(MOBILENET_DIR, 'mobilenet_v2_1.0_224', 'weights_manifest.json');
export const MOBILENET_NOTOP_MANIFEST = path.join(MOBILENET_DIR, 'mobilenet_v2_1.0_224_no_top', 'weights_manifest.json');
export const MOBILENET_NOTOP_H5 = path.join(MOBILENET_DIR, 'keras-h5', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5');
export const MOBILENET_SAMPLES = path.join(MOBILENET_DIR, 'samples');
/** Keras 3's own `.weights.h5` of the same no-top weights (`model.save_weights`; PROVENANCE.md there). */
export const MOBILENET_NOTOP_KERAS3 = path.join(MOBILENET_DIR, 'keras3', 'mobilenet_v2_1.0_224_no_top.weights.h5');
/** Outputs of Keras's own ImageDataGenerator.apply_transform for fixed parameters (README.md there). */
export const KERAS_APPLY_TRANSFORM = path.join(sharedDir(), 'fixtures', 'keras', 'keras-apply-transform.json');

/** Fails loudly (never skips) when the shared data is missing: a test that cannot see its inputs must not pass. */
export function requireShared(p: string): string {
  if (!fs.existsSync(p)) {
    throw new Error(`Shared test input missing: ${p}. Set CXR_SHARED_DIR to the folder holding data/ and models/.`);
  }
  return p;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(require('node:os').tmpdir(), `cxr-${prefix}-`));
}

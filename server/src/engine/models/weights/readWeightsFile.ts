import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../../errors';
import { readRegularHeadSync } from '../../util/safeRead';
import { UNRESTRICTED, type PathPolicy } from '../../security/pathPolicy';
import { assertFiniteWeights } from '../../numbers';
import { HDF5_HEAD_BYTES, hdf5SignatureOffset, readKerasHdf5 } from './kerasHdf5';
import { readKerasArchive } from './kerasArchive';
import { setWeightsSource, type NamedWeights } from './namedWeights';
import { readTfjsManifest } from './tfjsManifest';

const HOW_TO = 'Pass a TF.js weights_manifest.json (or its folder), a Keras HDF5 file (.h5 or .weights.h5) or a Keras 3 .keras file.';

/** Formats people pass by mistake, so the message can say what the file is. */
const LOOKALIKES: ReadonlyArray<readonly [string, (head: Buffer) => boolean]> = [
  ['a JPEG image', (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff],
  ['a PNG image', (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ['a DICOM file', (h) => h.length >= 132 && h.subarray(128, 132).toString('latin1') === 'DICM'],
];

function describe(head: Buffer, file: string): string {
  const lookalike = LOOKALIKES.find(([, test]) => test(head));
  if (lookalike) return lookalike[0];
  if (path.extname(file) === '.bin') return 'raw binary data, probably a TF.js weight shard: pass the weights_manifest.json next to it';
  return 'neither JSON nor HDF5';
}


function resolveWeightsPath(file: string, policy: PathPolicy): string {
  policy.check(file, 'weights file');
  if (!fs.existsSync(file)) throw new CxrError('NOT_FOUND', `Weights file not found: ${file}. ${HOW_TO}`, { file });
  if (!fs.statSync(file).isDirectory()) return file;
  for (const name of ['weights_manifest.json', 'model.json']) {
    const candidate = path.join(file, name);
    if (fs.existsSync(candidate)) return policy.check(candidate, 'weights file', `${name} in the weights folder`);
  }
  throw new CxrError('NOT_FOUND', `Folder ${file} holds no weights_manifest.json or model.json. ${HOW_TO}`, { file });
}

/** A ZIP archive starts with a local file header (or, empty, with the end record). */
const isZip = (h: Buffer) => h.length >= 4 && h[0] === 0x50 && h[1] === 0x4b && ((h[2] === 3 && h[3] === 4) || (h[2] === 5 && h[3] === 6));

/**
 * Reads TF.js manifests (float32 or quantised), Keras HDF5 weights (Keras 1/2 save_weights, a whole model saved as
 * .h5, Keras 3 .weights.h5) and Keras 3 .keras archives, told apart by content, not extension. The result remembers
 * its file, so messages about it name the file.
 */
export async function readWeightsFile(file: string, policy: PathPolicy = UNRESTRICTED): Promise<NamedWeights> {
  const resolved = resolveWeightsPath(file, policy);
  const named = await readResolved(resolved, policy);
  try {
    assertFiniteWeights(named, resolved);
  } catch (e) {
    named.forEach((t) => t.dispose());
    throw e;
  }
  return setWeightsSource(named, resolved);
}

async function readResolved(resolved: string, policy: PathPolicy): Promise<NamedWeights> {
  const head = readRegularHeadSync(resolved, 'weights file', HDF5_HEAD_BYTES);
  if (hdf5SignatureOffset(head) !== null) return readKerasHdf5(resolved, head);
  if (isZip(head)) return readKerasArchive(resolved);
  const firstChar = head.toString('utf8').trimStart()[0];
  if (firstChar === '[' || firstChar === '{') return readTfjsManifest(resolved, policy);
  throw new CxrError('WEIGHTS_INVALID', `${resolved} is not a weights file: it is ${describe(head, resolved)}. ${HOW_TO}`, { file: resolved });
}

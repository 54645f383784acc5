import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CxrError } from '../../errors';
import { parseGroupName, setKeras3Layout, type Keras3Group } from './keras3Layout';
import { layerWeightKeys } from './kerasWeightNames';
import type { NamedWeights } from './namedWeights';

type H5 = typeof import('h5wasm/node', { with: { 'resolution-mode': 'import' } });
type Group = InstanceType<H5['Group']>;
type Dataset = InstanceType<H5['Dataset']>;

/** HDF5 files start with this 8-byte signature (at offset 0, or 512/1024/... after a user block). */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Bytes to read from the start of a file to find the signature and the superblock. */
export const HDF5_HEAD_BYTES = 2048 + 64;

export function hdf5SignatureOffset(head: Buffer): number | null {
  return [0, 512, 1024, 2048].find((at) => head.subarray(at, at + 8).equals(HDF5_SIGNATURE)) ?? null;
}

/**
 * The file size the superblock declares (base address + end-of-file address), or null if unknown. Checked
 * before opening: libhdf5 fails on truncated files with an unhelpful 'name not defined' and a C error dump.
 */
function hdf5DeclaredSize(head: Buffer, at: number): number | null {
  const version = head[at + 8];
  const offsetSize = version >= 2 ? head[at + 9] : head[at + 13];
  if (offsetSize !== 4 && offsetSize !== 8) return null;
  const baseAt = at + (version >= 2 ? 12 : version === 1 ? 28 : 24);
  const read = (pos: number) => (offsetSize === 8 ? Number(head.readBigUInt64LE(pos)) : head.readUInt32LE(pos));
  if (head.length < baseAt + 3 * offsetSize) return null;
  const eofAt = baseAt + 2 * offsetSize; // after the base address and one more address field, in all versions
  return read(baseAt) + read(eofAt);
}

let h5Module: Promise<H5> | null = null;

/** h5wasm is ESM-only; a dynamic import works from this CommonJS package. */
export function loadH5wasm(): Promise<H5> {
  h5Module ??= import('h5wasm/node').then(async (h5) => {
    await h5.ready;
    return h5;
  });
  return h5Module;
}

function stringList(value: unknown): string[] {
  if (value == null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v)));
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<unknown>).length === 0) return []; // Keras writes [] as float64[0]
  return [String(value)];
}

function datasetTensor(ds: Dataset, where: string): tf.Tensor {
  const shape = ds.shape ?? [];
  const value = ds.value;
  if (value instanceof Float32Array) return tf.tensor(value, shape, 'float32');
  if (value instanceof Float64Array) return tf.tensor(Float32Array.from(value), shape, 'float32');
  if (typeof value === 'number') return tf.tensor(value, shape, 'float32');
  throw new CxrError('WEIGHTS_INVALID', `${where}: HDF5 dataset of type '${String(ds.dtype)}' is not a float32/float64 weight array.`);
}

function isGroup(h5: H5, entity: unknown): entity is Group {
  return entity instanceof h5.Group;
}

/** Classic Keras-2 `save_weights` layout (also Keras 1 and the weights of a Keras-2 `model.save`): attr layer_names. */
function readClassic(h5: H5, root: Group, file: string, out: NamedWeights): void {
  for (const layer of stringList(root.attrs['layer_names']?.value)) {
    const group = root.get(layer);
    if (!isGroup(h5, group)) throw new CxrError('WEIGHTS_INVALID', `${file} lists layer '${layer}' but holds no group for it: the file is damaged.`);
    const names = stringList(group.attrs['weight_names']?.value);
    const datasets = names.map((n) => {
      const ds = group.get(n);
      if (!(ds instanceof h5.Dataset)) throw new CxrError('WEIGHTS_INVALID', `${file}: weight '${n}' of layer '${layer}' is missing: the file is damaged.`);
      return ds;
    });
    const keys = layerWeightKeys(layer, names, datasets.map((d) => d.shape ?? []));
    keys.forEach((key, i) => addWeight(out, key, datasetTensor(datasets[i], `${file} ${layer}/${names[i]}`), file));
  }
}

/**
 * Keras 3 `.weights.h5` (keras3Layout.ts): layers/<class>[_<n>]/vars/<0..n>, a nested model as
 * layers/<class>[_<n>]/layers/... Weights are keyed by their HDF5 path until keyKeras3ByModel matches them to a model.
 */
function readKeras3(h5: H5, container: Group, at: string, containers: string[], file: string, out: NamedWeights, groups: Keras3Group[]): void {
  for (const name of container.keys()) {
    const group = container.get(name);
    if (!isGroup(h5, group)) continue;
    const groupPath = `${at}/${name}`;
    const vars = group.get('vars');
    if (isGroup(h5, vars)) {
      const [className, counter] = parseGroupName(name);
      const storedName = vars.attrs['name']?.value;
      const indices = vars.keys().filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
      const varKeys: string[] = [];
      indices.forEach((k, i) => {
        const ds = vars.get(k);
        if (!(ds instanceof h5.Dataset) || Number(k) !== i) {
          throw new CxrError('WEIGHTS_INVALID', `${file}: ${groupPath}/vars holds no dataset '${i}': the file is damaged.`);
        }
        const key = `${groupPath}/vars/${k}`;
        addWeight(out, key, datasetTensor(ds, `${file} ${key}`), file);
        varKeys.push(key);
      });
      groups.push({ path: groupPath, containers, className, counter, storedName: typeof storedName === 'string' ? storedName : undefined, varKeys });
    }
    const nested = group.get('layers');
    if (isGroup(h5, nested)) readKeras3(h5, nested, `${groupPath}/layers`, [...containers, name], file, out, groups);
  }
}

function addWeight(out: NamedWeights, key: string, tensor: tf.Tensor, file: string): void {
  if (out.has(key)) {
    tensor.dispose();
    throw new CxrError('WEIGHTS_INVALID', `${file} holds two weights for '${key}': it does not look like the weights of one Keras model.`);
  }
  out.set(key, tensor);
}

/** Reads `hdf5File`; messages call it `file` (a .keras archive's entry is read from a temporary copy). */
export async function readKerasHdf5(hdf5File: string, head: Buffer, file = hdf5File): Promise<NamedWeights> {
  const at = hdf5SignatureOffset(head) ?? 0;
  const declared = hdf5DeclaredSize(head, at);
  const size = fs.statSync(hdf5File).size;
  if (declared !== null && size < declared) {
    throw new CxrError('WEIGHTS_INVALID', `${file} is truncated: the HDF5 file is ${size} bytes but declares ${declared}. Download or copy it again.`, {
      file,
      bytes: size,
      expectedBytes: declared,
    });
  }
  const h5 = await loadH5wasm();
  let f: InstanceType<H5['File']>;
  try {
    f = new h5.File(path.resolve(hdf5File), 'r');
  } catch (e) {
    throw new CxrError('WEIGHTS_INVALID', `${file} has the HDF5 signature but could not be opened (${(e as Error).message}): the file is damaged or truncated.`);
  }
  const out: NamedWeights = new Map();
  try {
    const modelWeights = f.get('model_weights');
    const layers = f.get('layers');
    if (f.attrs['layer_names']) readClassic(h5, f, file, out);
    else if (isGroup(h5, modelWeights) && modelWeights.attrs['layer_names']) readClassic(h5, modelWeights, file, out);
    else if (isGroup(h5, layers)) {
      const groups: Keras3Group[] = [];
      readKeras3(h5, layers, 'layers', [], file, out, groups);
      setKeras3Layout(out, { groups });
    }
    else {
      throw new CxrError('WEIGHTS_INVALID', `${file} is an HDF5 file but not Keras weights: it has no 'layer_names' attribute, 'model_weights' group or Keras 3 'layers' group.`);
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    if (e instanceof CxrError) throw e;
    throw new CxrError('WEIGHTS_INVALID', `${file}: reading the HDF5 weights failed (${(e as Error).message}): the file is damaged or truncated.`);
  } finally {
    f.close();
  }
}

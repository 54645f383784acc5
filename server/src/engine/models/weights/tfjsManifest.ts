import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CxrError } from '../../errors';
import { MAX_WEIGHTS_BYTES, readRegularFileSync, readTextFileSync } from '../../util/safeRead';
import { UNRESTRICTED, type PathPolicy } from '../../security/pathPolicy';
import { normaliseWeightKey, type NamedWeights } from './namedWeights';

type ManifestEntry = tf.io.WeightsManifestEntry;
interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function entryBytes(entry: ManifestEntry, manifestFile: string): number {
  const stored = entry.quantization?.dtype ?? entry.dtype;
  const bytes = BYTES_PER_VALUE[stored];
  if (bytes === undefined) {
    throw new CxrError('WEIGHTS_INVALID', `${manifestFile}: weight '${entry.name}' has dtype '${stored}', which weight files of a backbone never hold.`);
  }
  return bytes * entry.shape.reduce((a, b) => a * b, 1);
}

/** The manifest groups of a weights_manifest.json, or of a TF.js model.json (its weightsManifest field). */
export function parseManifest(text: string, manifestFile: string): ManifestGroup[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CxrError('WEIGHTS_INVALID', `${manifestFile} is not valid JSON (${(e as Error).message}); a TF.js weights manifest is a JSON array of {paths, weights} groups.`);
  }
  const groups = Array.isArray(json) ? json : (json as { weightsManifest?: unknown } | null)?.weightsManifest;
  const valid =
    Array.isArray(groups) &&
    groups.every((g) => g && Array.isArray(g.paths) && Array.isArray(g.weights) && g.weights.every((w: ManifestEntry) => typeof w?.name === 'string' && Array.isArray(w.shape)));
  if (!valid) {
    throw new CxrError('WEIGHTS_INVALID', `${manifestFile} is JSON but not a TF.js weights manifest: expected an array of {"paths": [...], "weights": [{"name", "shape", "dtype"}]} groups (or a model.json with "weightsManifest").`);
  }
  return groups as ManifestGroup[];
}

function readGroupShards(group: ManifestGroup, dir: string, manifestFile: string, policy: PathPolicy): ArrayBuffer {
  const buffers = group.paths.map((shard) => {
    if (typeof shard !== 'string' || shard === '') throw new CxrError('WEIGHTS_INVALID', `${manifestFile} names a weight shard that is not a file name.`, { file: manifestFile });
    const file = policy.check(path.resolve(dir, shard), 'weight shard', `named by ${path.basename(manifestFile)}`);
    if (!fs.existsSync(file)) {
      throw new CxrError('NOT_FOUND', `Weight shard ${file} named by ${manifestFile} is missing: keep the .bin files next to the manifest.`, { file });
    }
    return readRegularFileSync(file, 'weight shard', MAX_WEIGHTS_BYTES);
  });
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const expected = group.weights.reduce((n, w) => n + entryBytes(w, manifestFile), 0);
  if (total !== expected) {
    const shards = group.paths.join(', ');
    const how = total < expected ? 'truncated (an interrupted download or copy?)' : 'larger than the manifest describes (a shard from another model?)';
    throw new CxrError(
      'WEIGHTS_INVALID',
      `Weight shards ${shards} of ${manifestFile} hold ${total} bytes but the manifest needs ${expected}: the data is ${how}. Copy the manifest and its shards again.`,
      { file: manifestFile, bytes: total, expectedBytes: expected },
    );
  }
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    joined.set(b, offset);
    offset += b.length;
  }
  return joined.buffer;
}

export function readTfjsManifest(manifestFile: string, policy: PathPolicy = UNRESTRICTED): NamedWeights {
  const groups = parseManifest(readTextFileSync(manifestFile, 'weights manifest'), manifestFile);
  const dir = path.dirname(manifestFile);
  const out: NamedWeights = new Map();
  try {
    for (const group of groups) {
      const decoded = tf.io.decodeWeights(readGroupShards(group, dir, manifestFile, policy), group.weights);
      for (const [name, tensor] of Object.entries(decoded)) out.set(normaliseWeightKey(name), tensor);
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

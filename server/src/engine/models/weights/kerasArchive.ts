import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CxrError } from '../../errors';
import { keras3Layout } from './keras3Layout';
import { HDF5_HEAD_BYTES, readKerasHdf5 } from './kerasHdf5';
import type { NamedWeights } from './namedWeights';
import { extractZipEntry, readZipDirectory, readZipText } from './zipArchive';

/**
 * A Keras 3 `.keras` file (`model.save('m.keras')`, keras/src/saving/saving_lib.py `_save_model_to_fileobj`): a ZIP
 * archive of metadata.json, config.json and model.weights.h5 (the `.weights.h5` layout), written by Python's
 * zipfile without compression. The weights entry is unpacked to a temporary file, read, and deleted.
 */
const WEIGHTS_ENTRY = 'model.weights.h5';
const CONFIG_ENTRY = 'config.json';
const MAX_CONFIG_BYTES = 64 * 2 ** 20;

export async function readKerasArchive(file: string): Promise<NamedWeights> {
  const entries = readZipDirectory(file);
  const weights = entries.find((e) => e.name === WEIGHTS_ENTRY);
  if (!weights) {
    const npz = entries.some((e) => e.name === 'model.weights.npz');
    const listed = entries.slice(0, 8).map((e) => e.name).join(', ') || 'nothing';
    throw new CxrError(
      'WEIGHTS_INVALID',
      npz
        ? `${file} is a .keras archive saved with weights_format='npz'; only the default HDF5 weights (model.weights.h5) can be read. Save it again with model.save('m.keras').`
        : `${file} is a ZIP archive but not a Keras .keras file: it holds no ${WEIGHTS_ENTRY} (it holds ${listed}).`,
      { file },
    );
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-keras-'));
  try {
    const h5File = path.join(scratch, WEIGHTS_ENTRY);
    await extractZipEntry(file, weights, h5File);
    const head = Buffer.alloc(HDF5_HEAD_BYTES);
    const fd = fs.openSync(h5File, 'r');
    const n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    const named = await readKerasHdf5(h5File, head.subarray(0, n), `${file} (${WEIGHTS_ENTRY})`);
    const layout = keras3Layout(named);
    const configEntry = entries.find((e) => e.name === CONFIG_ENTRY);
    if (layout && configEntry) layout.modelName = modelName(await readZipText(file, configEntry, path.join(scratch, CONFIG_ENTRY), MAX_CONFIG_BYTES));
    return named;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** config.json is the serialised model: {"class_name": "Functional", "config": {"name": "mobilenetv2_1.00_224", ...}}. */
function modelName(configJson: string | null): string | undefined {
  if (configJson === null) return undefined;
  try {
    const name = (JSON.parse(configJson) as { config?: { name?: unknown } }).config?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

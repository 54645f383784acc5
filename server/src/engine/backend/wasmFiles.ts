import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../errors';
import { optionalRequire } from './optionalRequire';

/** The binary tfjs uses under Node (threads are unavailable there, SIMD is used when supported). */
const MARKER_FILES = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm'];

export interface WasmFilesLocation {
  dir: string;
  source: 'option' | 'bundle' | 'package';
}

function holdsWasmFiles(dir: string): boolean {
  return MARKER_FILES.every((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Where the backend's .wasm files are: the `wasmDir` option, else a `wasm/` folder next to the running file (an
 * esbuild bundle ships them there), else the dist folder of the installed @tensorflow/tfjs-backend-wasm.
 */
export function locateWasmFiles(wasmDir?: string): WasmFilesLocation {
  if (wasmDir != null) {
    const dir = path.resolve(wasmDir);
    if (!holdsWasmFiles(dir)) {
      throw new CxrError('NOT_FOUND', `wasmDir ${dir} does not hold ${MARKER_FILES.join(' and ')}. Copy them from @tensorflow/tfjs-backend-wasm/dist.`, { dir });
    }
    return { dir, source: 'option' };
  }
  const besideBundle = path.join(__dirname, 'wasm');
  if (holdsWasmFiles(besideBundle)) return { dir: besideBundle, source: 'bundle' };
  let packageDir: string | null = null;
  try {
    packageDir = path.dirname(optionalRequire.resolve('@tensorflow/tfjs-backend-wasm'));
  } catch {
    packageDir = null;
  }
  if (packageDir != null && holdsWasmFiles(packageDir)) return { dir: packageDir, source: 'package' };
  throw new CxrError(
    'NOT_FOUND',
    `The TensorFlow.js wasm files (${MARKER_FILES.join(', ')}) were found neither in ${besideBundle} nor in the ` +
      '@tensorflow/tfjs-backend-wasm package. Pass wasmDir, or ship them in a wasm/ folder next to the bundle.',
  );
}

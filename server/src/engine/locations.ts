import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where the sample data and pretrained weights live. Nothing from there is ever copied into the repository:
 * it is found by path, `CXR_SHARED_DIR` first, else `../shared` beside the repository checkout.
 */
/** The folder holding this project's package.json: the checkout, or the installed extension when bundled. */
export function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readPackageName(manifest) === 'cxr-studio') return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

function readPackageName(manifest: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

export function sharedDir(): string {
  return process.env.CXR_SHARED_DIR ? path.resolve(process.env.CXR_SHARED_DIR) : path.resolve(repoRoot(), '..', 'shared');
}

/** Folder holding pretrained weights (`<models>/mobilenet_v2_imagenet/...`): `CXR_MODELS_DIR`, else `<shared>/models`. */
export function modelsDir(): string {
  return process.env.CXR_MODELS_DIR ? path.resolve(process.env.CXR_MODELS_DIR) : path.join(sharedDir(), 'models');
}

/** Weights shipped inside the packaged extension: scripts/bundle-weights.mjs copies them to dist/models at packaging time. */
export function bundledModelsDir(): string {
  return path.join(repoRoot(), 'dist', 'models');
}

/** Where "CXR: Get Backbone Weights" puts located or downloaded files (the extension sets it to its global storage). */
export function userModelsDir(): string | null {
  return process.env.CXR_USER_MODELS_DIR ? path.resolve(process.env.CXR_USER_MODELS_DIR) : null;
}

/** Folders searched for a backbone's known weight files, in order: the configured one, the user's, the bundled one. */
export function weightSearchDirs(): string[] {
  const dirs = [modelsDir(), userModelsDir(), bundledModelsDir()].filter((d): d is string => d !== null);
  return [...new Set(dirs)];
}

export function dataDir(): string {
  return process.env.CXR_DATA_DIR ? path.resolve(process.env.CXR_DATA_DIR) : path.join(sharedDir(), 'data');
}

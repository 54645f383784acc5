import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { globalNpmRoot, resolveGlobalNpmRoot } from './globalNpmRoot';
import { optionalRequire } from './optionalRequire';

/** The native TensorFlow bindings, GPU build first. Neither is a dependency: users install one themselves. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
export type TfjsNodePackage = (typeof TFJS_NODE_PACKAGES)[number];

/** The folder holding the user's tfjs-node for the CLI (the extension sets it from `cxr.tfjsNodePath`). */
export const TFJS_NODE_ENV = 'CXR_TFJS_NODE';

export type TfjsNodeOrigin = 'setting' | typeof TFJS_NODE_ENV | 'next to CXR Studio' | 'global npm root';

/** A tfjs-node package found on disk, not yet loaded. */
export interface TfjsNodeFound {
  packageName: TfjsNodePackage;
  version: string;
  /** The package folder. */
  dir: string;
  /** The file `require` would load. */
  entry: string;
  /** The version of the @tensorflow/tfjs-core that package would load (null: it resolves none). */
  coreVersion: string | null;
  origin: TfjsNodeOrigin;
}

export type TfjsNodeProbe =
  | { found: TfjsNodeFound; usable: true; why: string }
  | { found: TfjsNodeFound | null; usable: false; why: string };

export type TfjsNodeLoad =
  | { loaded: true; found: TfjsNodeFound }
  | { loaded: false; why: string; found: TfjsNodeFound | null };

export interface TfjsNodeOptions {
  /** A folder holding tfjs-node: the package folder itself, a node_modules folder, or a project with node_modules. */
  tfjsNodePath?: string;
}

const INSTALL_HINT =
  'install @tensorflow/tfjs-node-gpu (NVIDIA, CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node (CPU) 4.22 in a folder of your ' +
  `choice and name that folder in cxr.tfjsNodePath (CLI: ${TFJS_NODE_ENV}); installing one downloads libtensorflow`;

/**
 * Finds the user's tfjs-node without loading it, and says whether it can be used: its @tensorflow/tfjs-core must be
 * the version bundled here, because tfjs-core keeps one engine and kernel registry on `globalThis` that both copies share.
 * A folder named by the caller or CXR_TFJS_NODE is the only place looked at when given (a wrong one must not be
 * hidden by another install); otherwise next to this file, then the global npm root.
 */
export function probeTfjsNode(opts: TfjsNodeOptions = {}): TfjsNodeProbe {
  const named = namedFolder(opts);
  let found: TfjsNodeFound | null;
  if (named != null) {
    if (!fs.existsSync(named.dir)) return { found: null, usable: false, why: `${named.origin} names ${named.dir}, which does not exist` };
    found = findIn(named.dir, named.origin);
    if (found == null) return { found: null, usable: false, why: `neither ${TFJS_NODE_PACKAGES.join(' nor ')} is installed in ${named.dir} (named by ${named.origin})` };
  } else {
    found = findBesideSelf() ?? findInGlobalRoot();
    if (found == null) return { found: null, usable: false, why: `not installed: ${INSTALL_HINT}` };
  }
  const where = `${found.packageName} ${found.version} in ${found.dir} (${found.origin})`;
  if (found.coreVersion == null) {
    return { found, usable: false, why: `${where} cannot resolve @tensorflow/tfjs-core: reinstall it (npm install ${found.packageName}@${tf.version_core})` };
  }
  if (found.coreVersion !== tf.version_core) {
    return {
      found,
      usable: false,
      why:
        `refused: ${where} uses @tensorflow/tfjs-core ${found.coreVersion}, but CXR Studio bundles ${tf.version_core}; both ` +
        `copies share one TensorFlow.js engine, so they must be the same version. Install ${found.packageName}@${tf.version_core} there.`,
    };
  }
  return { found, usable: true, why: where };
}

/**
 * Settles, without blocking the thread, what probeTfjsNode would otherwise ask npm synchronously: the global npm root,
 * when the search gets that far (no named folder, none next to CXR Studio).
 */
export async function prepareTfjsNodeSearch(opts: TfjsNodeOptions = {}): Promise<void> {
  if (namedFolder(opts) == null && findBesideSelf() == null) await resolveGlobalNpmRoot();
}

/** Loads the user's tfjs-node (which registers the 'tensorflow' backend on the shared engine) after probing it. */
export function loadTfjsNode(opts: TfjsNodeOptions = {}): TfjsNodeLoad {
  const probe = probeTfjsNode(opts);
  if (!probe.usable) return { loaded: false, why: probe.why, found: probe.found };
  const { found } = probe;
  // Its own tfjs-core and tfjs-backend-cpu register kernels the bundled copies registered already: one warning
  // per kernel. They are expected, so keep them off the log.
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  try {
    createRequire(path.join(found.dir, 'package.json'))(found.entry);
  } catch (e) {
    return { loaded: false, why: `${found.packageName} in ${found.dir} failed to load: ${firstLine(e)}`, found };
  } finally {
    tf.env().set('PROD', prod);
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return { loaded: false, why: `${found.packageName} in ${found.dir} loaded but registered no 'tensorflow' backend`, found };
  }
  return { loaded: true, found };
}

function namedFolder(opts: TfjsNodeOptions): { dir: string; origin: TfjsNodeOrigin } | null {
  const fromOption = opts.tfjsNodePath?.trim();
  if (fromOption) return { dir: path.resolve(fromOption), origin: 'setting' };
  const fromEnv = process.env[TFJS_NODE_ENV]?.trim();
  if (fromEnv) return { dir: path.resolve(fromEnv), origin: TFJS_NODE_ENV };
  return null;
}

/** The package folder itself, a node_modules folder, or any folder whose node_modules (or an ancestor's) holds it. */
function findIn(dir: string, origin: TfjsNodeOrigin): TfjsNodeFound | null {
  const own = readManifest(path.join(dir, 'package.json'));
  if (own != null && isTfjsNode(own.name)) return describe(dir, own.name, own.version, origin);
  const req = createRequire(path.join(dir, 'noop.js'));
  for (const packageName of TFJS_NODE_PACKAGES) {
    const manifest = resolveManifest(req, packageName);
    if (manifest != null) return describe(path.dirname(manifest), packageName, readManifest(manifest)?.version, origin);
  }
  return null;
}

function findBesideSelf(): TfjsNodeFound | null {
  for (const packageName of TFJS_NODE_PACKAGES) {
    const manifest = resolveManifest(optionalRequire, packageName);
    if (manifest != null) return describe(path.dirname(manifest), packageName, readManifest(manifest)?.version, 'next to CXR Studio');
  }
  return null;
}

function findInGlobalRoot(): TfjsNodeFound | null {
  const root = globalNpmRoot();
  if (root == null) return null;
  for (const packageName of TFJS_NODE_PACKAGES) {
    const dir = path.join(root, ...packageName.split('/'));
    const manifest = readManifest(path.join(dir, 'package.json'));
    if (manifest?.name === packageName) return describe(dir, packageName, manifest.version, 'global npm root');
  }
  return null;
}

function describe(dir: string, packageName: TfjsNodePackage, version: string | undefined, origin: TfjsNodeOrigin): TfjsNodeFound | null {
  const req = createRequire(path.join(dir, 'package.json'));
  let entry: string;
  try {
    entry = req.resolve(dir);
  } catch {
    return null;
  }
  const coreManifest = resolveManifest(req, '@tensorflow/tfjs-core');
  const coreVersion = coreManifest != null ? (readManifest(coreManifest)?.version ?? null) : null;
  return { packageName, version: version ?? 'unknown', dir, entry, coreVersion, origin };
}

function resolveManifest(req: NodeJS.Require, packageName: string): string | null {
  try {
    return req.resolve(`${packageName}/package.json`);
  } catch {
    return null;
  }
}

function readManifest(file: string): { name: string; version?: string } | null {
  try {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    return typeof pkg.name === 'string' ? { name: pkg.name, version: typeof pkg.version === 'string' ? pkg.version : undefined } : null;
  } catch {
    return null;
  }
}

function isTfjsNode(name: string): name is TfjsNodePackage {
  return (TFJS_NODE_PACKAGES as readonly string[]).includes(name);
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

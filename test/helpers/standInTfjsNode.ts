import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../server/src/engine/locations';

/**
 * A stand-in for @tensorflow/tfjs-node, installed in a node_modules tree of its own (tfjs-node cannot be installed
 * here: its install downloads libtensorflow). Like the real package it loads its own copies of @tensorflow/tfjs-core
 * and @tensorflow/tfjs-backend-cpu from its tree and registers a backend named 'tensorflow' on the engine that
 * tfjs-core keeps on globalThis; its kernels are the cpu backend's, each logged (thread id and kernel name, once
 * per thread) to $CXR_STAND_IN_LOG. With $CXR_STAND_IN_OOM_KERNEL=<kernel name> that kernel throws the error
 * TensorFlow gives when a GPU runs out of memory.
 */
const STAND_IN_INDEX = `'use strict';
const fs = require('node:fs');
const { threadId } = require('node:worker_threads');
const tf = require('@tensorflow/tfjs-core');
const cpu = require('@tensorflow/tfjs-backend-cpu');
const log = process.env.CXR_STAND_IN_LOG;
const oomKernel = process.env.CXR_STAND_IN_OOM_KERNEL;
const seen = new Set();
tf.registerBackend('tensorflow', () => new cpu.MathBackendCPU(), 3);
for (const k of tf.getKernelsForBackend('cpu')) {
  tf.registerKernel({
    kernelName: k.kernelName,
    backendName: 'tensorflow',
    setupFunc: k.setupFunc,
    disposeFunc: k.disposeFunc,
    kernelFunc: (args) => {
      if (k.kernelName === oomKernel) {
        throw new Error('OOM when allocating tensor with shape[8,7,7,1280] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc');
      }
      if (log && !seen.has(k.kernelName)) {
        seen.add(k.kernelName);
        fs.appendFileSync(log, threadId + ' ' + k.kernelName + '\\n');
      }
      return k.kernelFunc(args);
    },
  });
}
module.exports = { standIn: true, coreVersion: tf.version_core };
`;

export interface StandInOptions {
  /** Package name: '@tensorflow/tfjs-node' (default) or '@tensorflow/tfjs-node-gpu'. */
  packageName?: string;
  version?: string;
  /**
   * The tfjs-core version its tree holds. Anything but the bundled version gets a tfjs-core whose code throws
   * when loaded: refusing such a tree must happen before anything of it is loaded.
   */
  coreVersion?: string;
}

/**
 * Writes the stand-in into `<nodeModules>/<packageName>` with its own tfjs-core, tfjs-backend-cpu and seedrandom
 * nested in the package's own node_modules (copied from this checkout: the same files a separate install holds).
 * Returns the package folder.
 */
export function writeStandInTfjsNode(nodeModules: string, opts: StandInOptions = {}): string {
  const packageName = opts.packageName ?? '@tensorflow/tfjs-node';
  const repoModules = path.join(repoRoot(), 'node_modules');
  const bundledCore = readVersion(path.join(repoModules, '@tensorflow', 'tfjs-core', 'package.json'));
  const coreVersion = opts.coreVersion ?? bundledCore;
  const pkgDir = path.join(nodeModules, ...packageName.split('/'));
  fs.mkdirSync(pkgDir, { recursive: true });
  fs.writeFileSync(
    path.join(pkgDir, 'package.json'),
    JSON.stringify({ name: packageName, version: opts.version ?? bundledCore, main: 'index.js', dependencies: { '@tensorflow/tfjs-core': coreVersion } }, null, 2),
  );
  fs.writeFileSync(path.join(pkgDir, 'index.js'), STAND_IN_INDEX);

  const own = path.join(pkgDir, 'node_modules');
  const core = path.join(own, '@tensorflow', 'tfjs-core');
  if (coreVersion === bundledCore) {
    copyPackageFiles(path.join(repoModules, '@tensorflow', 'tfjs-core'), core, ['package.json', 'dist/tf-core.node.js']);
  } else {
    fs.mkdirSync(path.join(core, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(core, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-core', version: coreVersion, main: 'dist/index.js' }));
    fs.writeFileSync(path.join(core, 'dist', 'index.js'), `throw new Error('tfjs-core ${coreVersion} of the stand-in was loaded: a mismatched version must be refused before loading');\n`);
  }
  copyPackageFiles(path.join(repoModules, '@tensorflow', 'tfjs-backend-cpu'), path.join(own, '@tensorflow', 'tfjs-backend-cpu'), ['package.json', 'dist/tf-backend-cpu.node.js']);
  fs.cpSync(path.join(repoModules, 'seedrandom'), path.join(own, 'seedrandom'), { recursive: true });
  return pkgDir;
}

/** The kernels the stand-in ran, as `threadId kernelName` lines (once per thread and kernel). */
export function readStandInLog(file: string): { threadId: number; kernel: string }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, kernel] = l.split(' ');
      return { threadId: Number(id), kernel };
    });
}

function copyPackageFiles(from: string, to: string, files: string[]): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

function readVersion(manifest: string): string {
  return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
}

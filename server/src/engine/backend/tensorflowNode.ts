import { isMissingPackage, optionalRequire, packageVersion } from './optionalRequire';

/** The native TensorFlow bindings, GPU build first. Neither is a dependency: users install one themselves. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export type TfjsNodeLoad =
  | { loaded: true; packageName: string; version: string }
  | { loaded: false; why: string };

const NOT_INSTALLED =
  `not installed (neither ${TFJS_NODE_PACKAGES.join(' nor ')} can be required; installing one needs network access to download libtensorflow)`;

/** Without loading anything: the tfjs-node package that would be used, or why there is none. */
export function probeTfjsNode(): { installed: string | null; why: string } {
  for (const packageName of TFJS_NODE_PACKAGES) {
    try {
      optionalRequire.resolve(packageName);
      return { installed: packageName, why: `${packageName} is installed` };
    } catch {
      // try the next one
    }
  }
  return { installed: null, why: NOT_INSTALLED };
}

/** Requires the first installed tfjs-node package, which registers the 'tensorflow' backend with tfjs-core. */
export function loadTfjsNode(): TfjsNodeLoad {
  const failures: string[] = [];
  for (const packageName of TFJS_NODE_PACKAGES) {
    try {
      optionalRequire(packageName);
      return { loaded: true, packageName, version: packageVersion(packageName) ?? 'unknown' };
    } catch (e) {
      if (isMissingPackage(e, packageName)) continue;
      failures.push(`${packageName} failed to load: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  if (failures.length > 0) return { loaded: false, why: failures.join('; ') };
  return { loaded: false, why: NOT_INSTALLED };
}

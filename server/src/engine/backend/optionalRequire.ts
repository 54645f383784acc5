import { createRequire } from 'node:module';

/**
 * A require that bundlers (esbuild) leave alone: optional native packages such as @tensorflow/tfjs-node are
 * looked up at run time next to the running file, never pulled into a bundle or demanded at install time.
 */
export const optionalRequire: NodeJS.Require = createRequire(__filename);

/** True when the error says `packageName` itself is missing (not one of its own dependencies). */
export function isMissingPackage(e: unknown, packageName: string): boolean {
  const err = e as { code?: string; message?: string } | null;
  return err?.code === 'MODULE_NOT_FOUND' && typeof err.message === 'string' && err.message.includes(`'${packageName}'`);
}

export function packageVersion(packageName: string): string | null {
  try {
    const pkg = optionalRequire(`${packageName}/package.json`) as { version?: string };
    return pkg.version ?? null;
  } catch {
    return null;
  }
}

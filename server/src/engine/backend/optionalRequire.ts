import { createRequire } from 'node:module';

/**
 * A require that bundlers (esbuild) leave alone: optional native packages such as @tensorflow/tfjs-node are
 * looked up at run time next to the running file, never pulled into a bundle or demanded at install time.
 */
export const optionalRequire: NodeJS.Require = createRequire(__filename);

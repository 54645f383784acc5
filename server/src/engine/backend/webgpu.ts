import type { ComputeDevice } from '../api';
import { webgpuDevice, type AdapterInfoLike } from './device';
import { optionalRequire } from './optionalRequire';

/** The Dawn bindings for Node (ESM, native binaries for linux/win32/darwin inside the npm package). */
const DAWN_PACKAGE = 'webgpu';

export type WebgpuProbe = { ok: true; device: ComputeDevice; dawnVersion: string } | { ok: false; why: string };

interface DawnModule {
  create: (flags: string[]) => { requestAdapter: () => Promise<{ info: AdapterInfoLike } | null> };
  globals: Record<string, unknown>;
}

let dawn: Promise<DawnModule> | null = null;

/**
 * Makes WebGPU visible to tfjs-backend-webgpu the way a browser would: the GPU* constants on globalThis and
 * `navigator.gpu` (Node 20 has no navigator), then asks Dawn for an adapter. Never throws: says why not instead.
 */
export async function prepareWebgpu(): Promise<WebgpuProbe> {
  let mod: DawnModule;
  try {
    dawn ??= import('webgpu') as unknown as Promise<DawnModule>;
    mod = await dawn;
  } catch (e) {
    dawn = null;
    return { ok: false, why: `the '${DAWN_PACKAGE}' package (Dawn) cannot be loaded: ${firstLine(e)}` };
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  let gpu = g.navigator?.gpu as ReturnType<DawnModule['create']> | undefined;
  if (gpu == null) {
    gpu = mod.create([]);
    if (g.navigator == null) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  let adapter: { info: AdapterInfoLike } | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, why: `Dawn failed to look for a GPU adapter: ${firstLine(e)}` };
  }
  if (adapter == null) {
    return {
      ok: false,
      why:
        'Dawn found no WebGPU adapter (needs a Vulkan, Metal or Direct3D 12 driver; on Linux without a GPU, Mesa >= 25 ' +
        'lavapipe works, Mesa 22 lavapipe does not)',
    };
  }
  return { ok: true, device: webgpuDevice(adapter.info), dawnVersion: packageVersion(DAWN_PACKAGE) };
}

/** Registers the 'webgpu' backend factory (the package is bundled; loading it is deferred until asked for). */
export async function registerWebgpuBackend(): Promise<string> {
  await import('@tensorflow/tfjs-backend-webgpu');
  // The package exports no version constant; a literal require lets esbuild bundle its package.json.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version;
}

/** Whether the packages are present at all, without loading a native binary. */
export function webgpuPackagesPresent(): { ok: boolean; why: string } {
  try {
    optionalRequire.resolve(`${DAWN_PACKAGE}/package.json`);
    return { ok: true, why: `the '${DAWN_PACKAGE}' package (Dawn ${packageVersion(DAWN_PACKAGE)}) is installed` };
  } catch {
    return { ok: false, why: `the '${DAWN_PACKAGE}' package (Dawn) is not installed next to CXR Studio` };
  }
}

function packageVersion(name: string): string {
  try {
    return (optionalRequire(`${name}/package.json`) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

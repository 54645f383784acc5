import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import type { BackendCandidate, BackendName, BackendReport, ComputeDevice } from '../api';
import { AUTO_BACKENDS, BACKEND_NAMES } from '../names';
import { CxrError } from '../errors';
import { cpuDevice, tensorflowDevice } from './device';
import { loadTfjsNode, prepareTfjsNodeSearch, probeTfjsNode, TFJS_NODE_ENV } from './tensorflowNode';
import { locateWasmFiles, WasmFilesLocation } from './wasmFiles';
import { prepareWebgpu, registerWebgpuBackend, webgpuPackagesPresent } from './webgpu';
import { registerWasmGradKernels } from './wasmKernels/register';

export interface InitBackendOptions {
  /** Try this backend first (falls back in the usual order when it is unavailable). CXR_BACKEND overrides it. */
  prefer?: BackendName;
  /** Folder holding the tfjs-backend-wasm .wasm files (for bundles that ship them elsewhere). */
  wasmDir?: string;
  /** Folder holding the user's @tensorflow/tfjs-node(-gpu) (the cxr.tfjsNodePath setting); CXR_TFJS_NODE otherwise. */
  tfjsNodePath?: string;
}

const BACKEND_ENV = 'CXR_BACKEND';
const GPU_CAPABLE: readonly BackendName[] = ['tensorflow', 'webgpu'];

type Attempt =
  | { ok: true; why: string; versions: Record<string, string>; customKernels: string[]; device: ComputeDevice }
  | { ok: false; why: string; /** The user set something up for it (installed tfjs-node, asked for it): say so loudly. */ expected?: boolean };

let current: BackendReport | null = null;
let queue: Promise<unknown> = Promise.resolve();
let wasmFiles: WasmFilesLocation | null = null;

/**
 * Chooses and initialises the TensorFlow.js backend: the native `tensorflow` one when the user's
 * @tensorflow/tfjs-node(-gpu) is found (see tensorflowNode.ts), else `wasm`, else `cpu`. `webgpu` is used only when
 * asked for. The first call decides; later calls return the same report, unless they prefer another backend (then
 * it switches when that one is available). CXR_BACKEND=<name> forces one and fails when it cannot be initialised.
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendReport> {
  return serialised(() => chooseOnce(opts));
}

/** The report of the backend in use, or null before initBackend has succeeded. */
export function backendReport(): BackendReport | null {
  return current;
}

/**
 * After a GPU backend failed (out of memory, device lost), moves this thread to the CPU path (wasm, else cpu) with
 * a warning naming the reason. Callers must not continue a training across it: a run never changes device mid-run.
 */
export function fallBackToCpu(reason: string): Promise<BackendReport> {
  return serialised(async () => {
    const from = current;
    const report = await choose({ prefer: 'wasm' }, null);
    const what = from != null ? `${from.name} on ${from.device.name}` : 'the GPU backend';
    report.warnings.unshift(`${what} failed (${reason}); switched to ${report.name} on the CPU`);
    current = report;
    return report;
  });
}

function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn);
  queue = run.catch(() => undefined);
  return run;
}

async function chooseOnce(opts: InitBackendOptions): Promise<BackendReport> {
  const forced = forcedBackend();
  if (current != null) {
    const wanted = forced ?? opts.prefer;
    if (wanted == null || wanted === current.name) return current;
  }
  current = await choose(opts, forced);
  return current;
}

function forcedBackend(): BackendName | null {
  const raw = process.env[BACKEND_ENV]?.trim();
  if (raw == null || raw === '') return null;
  if ((BACKEND_NAMES as readonly string[]).includes(raw)) return raw as BackendName;
  throw new CxrError('INVALID_ARGUMENT', `${BACKEND_ENV}=${raw} is not a backend: use one of ${BACKEND_NAMES.join(', ')}, or unset it to choose automatically.`);
}

async function choose(opts: InitBackendOptions, forced: BackendName | null): Promise<BackendReport> {
  // A wasmDir the caller names must be right: falling back to the 25x slower cpu backend would hide the mistake.
  if (opts.wasmDir != null && wasmFiles == null) wasmFiles = locateWasmFiles(opts.wasmDir);
  const order: readonly BackendName[] =
    forced != null ? [forced] : opts.prefer != null ? [opts.prefer, ...AUTO_BACKENDS.filter((b) => b !== opts.prefer)] : AUTO_BACKENDS;
  const tried = new Map<BackendName, Attempt>();
  let chosen: BackendName | null = null;
  for (const name of order) {
    const attempt = await activate(name, opts);
    tried.set(name, attempt);
    if (attempt.ok) {
      chosen = name;
      break;
    }
  }
  if (chosen == null) {
    const failures = order.map((b) => `${b}: ${tried.get(b)?.why ?? 'not tried'}`).join('; ');
    const hint = forced != null ? ` Unset ${BACKEND_ENV} or set it to another backend.` : '';
    throw new CxrError('BACKEND_UNAVAILABLE', `No TensorFlow.js backend could be initialised (${failures}).${hint}`, { tried: order });
  }
  const win = tried.get(chosen) as Extract<Attempt, { ok: true }>;
  const candidates: BackendCandidate[] = BACKEND_NAMES.map((name) => candidate(name, chosen, tried.get(name), forced, opts));
  const warnings = [...tried.entries()]
    .filter(([name, a]) => !a.ok && (name === opts.prefer || a.expected === true))
    .map(([name, a]) => `${name} ${name === opts.prefer ? 'was asked for but' : 'was found but'} ${a.why}; using ${chosen} on ${win.device.kind.toUpperCase()} instead`);
  return {
    name: chosen,
    reason: reasonFor(chosen, tried, forced, opts.prefer),
    candidates,
    versions: { 'tfjs-core': tf.version_core, ...win.versions, node: process.versions.node },
    customKernels: win.customKernels,
    device: win.device,
    warnings,
  };
}

function candidate(name: BackendName, chosen: BackendName, attempt: Attempt | undefined, forced: BackendName | null, opts: InitBackendOptions): BackendCandidate {
  if (name === chosen) return { name, available: true, why: attempt?.why ?? '' };
  if (attempt != null) return { name, available: attempt.ok, why: attempt.why };
  // Not initialised: report availability from a cheap probe only.
  const notTried = forced != null ? `not considered: ${BACKEND_ENV}=${forced}` : `not tried: ${chosen} was preferred`;
  switch (name) {
    case 'tensorflow': {
      const probe = probeTfjsNode(opts);
      return { name, available: probe.usable, why: probe.usable ? `${probe.why}; ${notTried}` : probe.why };
    }
    case 'webgpu': {
      const present = webgpuPackagesPresent();
      const optIn = 'opt-in only (cxr.engineBackend: webgpu, or --backend webgpu), never chosen automatically';
      return { name, available: present.ok, why: `${present.why}; ${optIn}; adapter not checked (cxr doctor checks it)` };
    }
    default: {
      let why = notTried;
      if (forced == null && AUTO_BACKENDS.indexOf(name) > AUTO_BACKENDS.indexOf(chosen)) why = `lower priority than ${chosen}`;
      if (name === 'cpu') why += '; pure JavaScript, about 25-30x slower than wasm';
      return { name, available: tf.findBackendFactory(name) != null, why };
    }
  }
}

function reasonFor(chosen: BackendName, tried: Map<BackendName, Attempt>, forced: BackendName | null, prefer?: BackendName): string {
  const what = tried.get(chosen)?.why ?? '';
  if (forced != null) return `${BACKEND_ENV}=${forced} forces it: ${what}`;
  const skipped = [...tried.entries()].filter(([, a]) => !a.ok).map(([b, a]) => `${b} ${a.why}`);
  const head = prefer === chosen ? 'preferred by the caller' : skipped.length > 0 ? `first available (${skipped.join('; ')})` : 'highest priority';
  return `${head}: ${what}`;
}

async function activate(name: BackendName, opts: InitBackendOptions): Promise<Attempt> {
  try {
    switch (name) {
      case 'tensorflow':
        return await activateTensorflow(opts);
      case 'webgpu':
        return await activateWebgpu();
      case 'wasm':
        return await activateWasm(opts.wasmDir);
      case 'cpu':
        return await switchTo('cpu', 'pure JavaScript reference backend, slow', { 'tfjs-backend-cpu': version_cpu }, [], cpuDevice('one thread'));
    }
  } catch (e) {
    return { ok: false, why: `failed to initialise: ${e instanceof Error ? e.message : String(e)}`, expected: GPU_CAPABLE.includes(name) };
  }
}

async function activateTensorflow(opts: InitBackendOptions): Promise<Attempt> {
  await prepareTfjsNodeSearch(opts);
  const load = loadTfjsNode(opts);
  if (!load.loaded) return { ok: false, why: load.why, expected: load.found != null || namedTfjsNode(opts) };
  const { found } = load;
  const attempt = await switchTo(
    'tensorflow',
    `native TensorFlow from ${found.packageName} ${found.version} in ${found.dir} (${found.origin})`,
    { [found.packageName.replace('@tensorflow/', '')]: found.version },
    [],
    tensorflowDevice(found.packageName),
  );
  return attempt.ok ? attempt : { ...attempt, expected: true };
}

async function activateWebgpu(): Promise<Attempt> {
  const probe = await prepareWebgpu();
  if (!probe.ok) return { ok: false, why: probe.why };
  const version = await registerWebgpuBackend();
  return switchTo(
    'webgpu',
    `WebGPU through Dawn on ${probe.device.name}`,
    { 'tfjs-backend-webgpu': version, webgpu: probe.dawnVersion },
    [],
    probe.device,
  );
}

async function activateWasm(wasmDir?: string): Promise<Attempt> {
  const customKernels = registerWasmGradKernels();
  if (wasmFiles == null) {
    wasmFiles = locateWasmFiles(wasmDir);
    setWasmPaths(wasmFiles.dir + path.sep);
  }
  const attempt = await switchTo('wasm', '', { 'tfjs-backend-wasm': version_wasm }, customKernels, cpuDevice('WebAssembly, one thread'));
  if (!attempt.ok) return attempt;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  attempt.why =
    `WebAssembly (XNNPACK${simd ? ', SIMD' : ', no SIMD'}, ${threads ? 'multi-threaded' : 'one thread'}) with ` +
    `${customKernels.length} composite gradient kernels; .wasm files from ${wasmFiles.dir} (${wasmFiles.source})`;
  return attempt;
}

/** setBackend can report success yet leave another backend active (wasm falls back silently): check both. */
async function switchTo(name: BackendName, why: string, versions: Record<string, string>, customKernels: string[], device: ComputeDevice): Promise<Attempt> {
  const ok = await tf.setBackend(name);
  const active = tf.getBackend();
  if (!ok) return { ok: false, why: `failed to initialise (tf.setBackend('${name}') returned false; active: ${active})` };
  if (active !== name) return { ok: false, why: `failed to initialise (tf.getBackend() is '${active}' after setBackend('${name}'))` };
  await tf.ready();
  return { ok: true, why, versions, customKernels, device };
}

function namedTfjsNode(opts: InitBackendOptions): boolean {
  return (opts.tfjsNodePath?.trim() ?? '') !== '' || (process.env[TFJS_NODE_ENV]?.trim() ?? '') !== '';
}

import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths, version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import type { BackendCandidate, BackendName, BackendReport } from '../api';
import { BACKEND_NAMES } from '../names';
import { CxrError } from '../errors';
import { loadTfjsNode, probeTfjsNode } from './tensorflowNode';
import { locateWasmFiles, WasmFilesLocation } from './wasmFiles';
import { registerWasmGradKernels } from './wasmKernels/register';

export interface InitBackendOptions {
  /** Try this backend first (falls back in the usual order when it is unavailable). CXR_BACKEND overrides it. */
  prefer?: BackendName;
  /** Folder holding the tfjs-backend-wasm .wasm files (for bundles that ship them elsewhere). */
  wasmDir?: string;
}

const PRIORITY: readonly BackendName[] = BACKEND_NAMES;
const BACKEND_ENV = 'CXR_BACKEND';

type Attempt = { ok: true; why: string; versions: Record<string, string>; customKernels: string[] } | { ok: false; why: string };

let current: BackendReport | null = null;
let queue: Promise<unknown> = Promise.resolve();
let wasmFiles: WasmFilesLocation | null = null;

/**
 * Chooses and initialises the TensorFlow.js backend: the native `tensorflow` one when @tensorflow/tfjs-node(-gpu)
 * is installed, else `wasm`, else `cpu`. The first call decides; later calls return the same report, unless they
 * prefer another backend (then it switches when that one is available). CXR_BACKEND=tensorflow|wasm|cpu forces
 * one and fails when it cannot be initialised.
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendReport> {
  const run = queue.then(() => chooseOnce(opts));
  queue = run.catch(() => undefined);
  return run;
}

/** The report of the backend in use, or null before initBackend has succeeded. */
export function backendReport(): BackendReport | null {
  return current;
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
  if ((PRIORITY as string[]).includes(raw)) return raw as BackendName;
  throw new CxrError('INVALID_ARGUMENT', `${BACKEND_ENV}=${raw} is not a backend: use one of ${PRIORITY.join(', ')}, or unset it to choose automatically.`);
}

async function choose(opts: InitBackendOptions, forced: BackendName | null): Promise<BackendReport> {
  // A wasmDir the caller names must be right: falling back to the 25x slower cpu backend would hide the mistake.
  if (opts.wasmDir != null && wasmFiles == null) wasmFiles = locateWasmFiles(opts.wasmDir);
  const order = forced != null ? [forced] : opts.prefer != null ? [opts.prefer, ...PRIORITY.filter((b) => b !== opts.prefer)] : PRIORITY;
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
  const candidates: BackendCandidate[] = PRIORITY.map((name) => candidate(name, chosen, tried.get(name), forced));
  return {
    name: chosen,
    reason: reasonFor(chosen, tried, forced, opts.prefer),
    candidates,
    versions: { 'tfjs-core': tf.version_core, ...win.versions, node: process.versions.node },
    customKernels: win.customKernels,
  };
}

function candidate(name: BackendName, chosen: BackendName, attempt: Attempt | undefined, forced: BackendName | null): BackendCandidate {
  if (name === chosen) return { name, available: true, why: attempt?.why ?? '' };
  if (attempt != null) return { name, available: attempt.ok, why: attempt.why };
  // Not initialised: report availability from a cheap probe only.
  const probe = name === 'tensorflow' ? probeTfjsNode() : null;
  const available = probe != null ? probe.installed != null : tf.findBackendFactory(name) != null;
  let why = forced != null ? `not considered: ${BACKEND_ENV}=${forced}` : `not tried: ${chosen} was preferred`;
  if (probe != null) why = probe.installed != null ? `${probe.why}; ${why}` : probe.why;
  else if (forced == null && PRIORITY.indexOf(name) > PRIORITY.indexOf(chosen)) why = `lower priority than ${chosen}`;
  if (name === 'cpu') why += '; pure JavaScript, about 25-30x slower than wasm';
  return { name, available, why };
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
        return await activateTensorflow();
      case 'wasm':
        return await activateWasm(opts.wasmDir);
      case 'cpu':
        return await switchTo('cpu', 'pure JavaScript reference backend, slow', { 'tfjs-backend-cpu': version_cpu }, []);
    }
  } catch (e) {
    return { ok: false, why: `failed to initialise: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function activateTensorflow(): Promise<Attempt> {
  const load = loadTfjsNode();
  if (!load.loaded) return { ok: false, why: load.why };
  return switchTo('tensorflow', `native TensorFlow from ${load.packageName}`, { [load.packageName.replace('@tensorflow/', '')]: load.version }, []);
}

async function activateWasm(wasmDir?: string): Promise<Attempt> {
  const customKernels = registerWasmGradKernels();
  if (wasmFiles == null) {
    wasmFiles = locateWasmFiles(wasmDir);
    setWasmPaths(wasmFiles.dir + path.sep);
  }
  const attempt = await switchTo('wasm', '', { 'tfjs-backend-wasm': version_wasm }, customKernels);
  if (!attempt.ok) return attempt;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  attempt.why =
    `WebAssembly (XNNPACK${simd ? ', SIMD' : ', no SIMD'}, ${threads ? 'multi-threaded' : 'one thread'}) with ` +
    `${customKernels.length} composite gradient kernels; .wasm files from ${wasmFiles.dir} (${wasmFiles.source})`;
  return attempt;
}

/** setBackend can report success yet leave another backend active (wasm falls back silently): check both. */
async function switchTo(name: BackendName, why: string, versions: Record<string, string>, customKernels: string[]): Promise<Attempt> {
  const ok = await tf.setBackend(name);
  const active = tf.getBackend();
  if (!ok) return { ok: false, why: `failed to initialise (tf.setBackend('${name}') returned false; active: ${active})` };
  if (active !== name) return { ok: false, why: `failed to initialise (tf.getBackend() is '${active}' after setBackend('${name}'))` };
  await tf.ready();
  return { ok: true, why, versions, customKernels };
}

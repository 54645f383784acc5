import * as fs from 'node:fs';
import * as path from 'node:path';
import { ORT_PROVIDER_PREFERENCES, type OrtProviderPreference } from '../names';

export { ORT_PROVIDER_PREFERENCES, type OrtProviderPreference };

/**
 * ONNX Runtime execution providers for inference: the platform's GPU provider when the installed onnxruntime-node
 * has it (CUDA on Linux, DirectML on Windows, CoreML on macOS), else the CPU. Overridable with the
 * cxr.onnxExecutionProvider setting / `--ort-provider` (both reach here as CXR_ORT_PROVIDER).
 */
export const ORT_PROVIDER_ENV = 'CXR_ORT_PROVIDER';

/** The GPU provider `auto` tries on each platform. */
const GPU_PROVIDER: Partial<Record<NodeJS.Platform, 'cuda' | 'dml' | 'coreml'>> = { linux: 'cuda', win32: 'dml', darwin: 'coreml' };

/** Providers onnxruntime-node loads from a separate library next to its binding (CUDA's is an optional download). */
const PROVIDER_LIBRARY: Record<string, Partial<Record<NodeJS.Platform, string>>> = {
  cuda: { linux: 'libonnxruntime_providers_cuda.so', win32: 'onnxruntime_providers_cuda.dll' },
  tensorrt: { linux: 'libonnxruntime_providers_tensorrt.so', win32: 'onnxruntime_providers_tensorrt.dll' },
};

const PROVIDER_LABEL: Record<string, string> = { cpu: 'CPU', cuda: 'CUDA (NVIDIA)', dml: 'DirectML', coreml: 'CoreML', tensorrt: 'TensorRT', webgpu: 'WebGPU' };

/** What `listSupportedBackends()` of onnxruntime-node returns. */
export interface OrtSupportedBackend {
  name: string;
  bundled: boolean;
}

export interface OrtProviderStatus {
  name: string;
  available: boolean;
  /** Why it is (or is not) available, and whether it is used. */
  why: string;
}

export interface OrtProviderPlan {
  /** Providers to try, in order; the last is always 'cpu'. */
  order: string[];
  statuses: OrtProviderStatus[];
  preference: OrtProviderPreference;
  /** Set when the preference cannot be honoured (asked-for provider missing). */
  warning?: string;
}

export interface PlanInput {
  supported: OrtSupportedBackend[];
  /** Folder of onnxruntime_binding.node, where non-bundled provider libraries must be. */
  bindingDir: string;
  platform?: NodeJS.Platform;
  preference?: OrtProviderPreference;
  fileExists?: (file: string) => boolean;
}

export function parseOrtProviderPreference(raw: string | undefined, source = ORT_PROVIDER_ENV): OrtProviderPreference {
  const value = raw?.trim().toLowerCase() ?? '';
  if (value === '') return 'auto';
  if ((ORT_PROVIDER_PREFERENCES as readonly string[]).includes(value)) return value as OrtProviderPreference;
  throw new Error(`${source}=${raw} is not an ONNX Runtime execution provider: use one of ${ORT_PROVIDER_PREFERENCES.join(', ')}.`);
}

/** The preference from CXR_ORT_PROVIDER (the extension sets it from the setting, the CLI from --ort-provider). */
export function ortProviderPreferenceFromEnv(): OrtProviderPreference {
  return parseOrtProviderPreference(process.env[ORT_PROVIDER_ENV]);
}

/** Which providers to try for a session, and why each one is or is not available. Pure: no native code runs. */
export function planOrtProviders(input: PlanInput): OrtProviderPlan {
  const platform = input.platform ?? process.platform;
  const preference = input.preference ?? 'auto';
  const exists = input.fileExists ?? fs.existsSync;
  const gpu = GPU_PROVIDER[platform];
  const available = new Map<string, { ok: boolean; why: string }>();
  for (const b of input.supported) {
    if (b.bundled) {
      available.set(b.name, { ok: true, why: 'built into the installed onnxruntime-node' });
      continue;
    }
    const lib = PROVIDER_LIBRARY[b.name]?.[platform];
    if (lib != null && exists(path.join(input.bindingDir, lib))) {
      const cudaNote = b.name === 'cuda' ? '; also needs the CUDA 12 and cuDNN 9 runtime libraries, checked when a session starts' : '';
      available.set(b.name, { ok: true, why: `${lib} is installed next to onnxruntime-node's binding${cudaNote}` });
    } else {
      const how = b.name === 'cuda' ? ' (reinstall onnxruntime-node without ONNXRUNTIME_NODE_INSTALL=skip, with network access, to download it)' : '';
      available.set(b.name, { ok: false, why: `${lib ?? `its provider library`} is not installed${how}` });
    }
  }
  if (!available.has('cpu')) available.set('cpu', { ok: true, why: 'built into every onnxruntime-node' });

  let warning: string | undefined;
  let first: string | null = null;
  if (preference === 'auto') {
    if (gpu != null && available.get(gpu)?.ok) first = gpu;
  } else if (preference !== 'cpu') {
    const wanted = available.get(preference);
    if (wanted?.ok) first = preference;
    else {
      const why = wanted?.why ?? `the installed onnxruntime-node has no ${PROVIDER_LABEL[preference]} provider on ${platform}`;
      warning = `${ORT_PROVIDER_ENV}=${preference} asked for ${PROVIDER_LABEL[preference]}, but ${why}; using the CPU`;
    }
  }
  const order = first != null ? [first, 'cpu'] : ['cpu'];

  const statuses: OrtProviderStatus[] = [...available.entries()].map(([name, a]) => {
    let use: string;
    if (name === order[0]) use = preference === 'auto' ? 'used (chosen automatically)' : `used (${ORT_PROVIDER_ENV}=${preference})`;
    else if (name === 'cpu') use = 'fallback';
    else if (!a.ok) use = 'not used';
    else if (name === gpu) use = `not used (${ORT_PROVIDER_ENV}=${preference})`;
    else use = `not used (auto tries ${gpu != null ? PROVIDER_LABEL[gpu] : 'only the CPU'} on ${platform})`;
    return { name, available: a.ok, why: `${PROVIDER_LABEL[name] ?? name}: ${a.why}; ${use}` };
  });
  if (gpu != null && !available.has(gpu)) {
    statuses.push({ name: gpu, available: false, why: `${PROVIDER_LABEL[gpu]}: not in the installed onnxruntime-node's list of providers` });
  }
  return { order, statuses, preference, warning };
}

export interface SessionWithProvider<S> {
  session: S;
  /** The provider the session was created with first ('cpu' after a fallback). */
  provider: string;
  warnings: string[];
}

/**
 * Creates a session with the plan's providers, falling back to the CPU alone when the GPU provider fails to
 * start (missing CUDA libraries, no device, out of memory), with a warning that names the reason.
 */
export async function createWithProviderFallback<S>(
  plan: OrtProviderPlan,
  create: (executionProviders: string[]) => Promise<S>,
): Promise<SessionWithProvider<S>> {
  const warnings = plan.warning != null ? [plan.warning] : [];
  if (plan.order[0] === 'cpu') return { session: await create(['cpu']), provider: 'cpu', warnings };
  try {
    return { session: await create(plan.order), provider: plan.order[0], warnings };
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    warnings.push(`ONNX Runtime ${PROVIDER_LABEL[plan.order[0]] ?? plan.order[0]} provider failed to start (${reason}); using the CPU`);
    return { session: await create(['cpu']), provider: 'cpu', warnings };
  }
}

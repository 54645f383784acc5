import * as path from 'node:path';
import type { OnnxRuntimeReport } from '../api';
import { optionalRequire } from './optionalRequire';
import {
  ortProviderPreferenceFromEnv,
  planOrtProviders,
  type OrtProviderPlan,
  type OrtProviderPreference,
  type OrtSupportedBackend,
  type SessionWithProvider,
} from './ortProviders';

export interface OrtBinding {
  listSupportedBackends?: () => OrtSupportedBackend[];
  env?: { versions?: { node?: string; common?: string } };
}

/** The provider the last ONNX Runtime session of this thread started with, and what went wrong on the way. */
let lastSession: { provider: string; warnings: string[] } | null = null;

/**
 * The providers a new session tries, from the loaded onnxruntime-node and the preference (CXR_ORT_PROVIDER). An
 * unknown preference falls back to auto, with a warning.
 */
export function ortSessionPlan(ort: OrtBinding): OrtProviderPlan {
  let preference: OrtProviderPreference = 'auto';
  let problem: string | undefined;
  try {
    preference = ortProviderPreferenceFromEnv();
  } catch (e) {
    problem = `${e instanceof Error ? e.message : String(e)} Using auto.`;
  }
  const bindingDir = ortBindingDir();
  const supported = typeof ort.listSupportedBackends === 'function' ? ort.listSupportedBackends() : [{ name: 'cpu', bundled: true }];
  const plan = planOrtProviders({ supported, bindingDir: bindingDir ?? '', preference });
  return problem != null ? { ...plan, warning: [problem, plan.warning].filter(Boolean).join(' ') } : plan;
}

/** Remembers which provider a session got, for the reports. */
export function recordOrtSession(made: SessionWithProvider<unknown>): void {
  lastSession = { provider: made.provider, warnings: made.warnings };
}

/** The folder of onnxruntime_binding.node for this platform, where optional provider libraries must be installed. */
export function ortBindingDir(): string | null {
  try {
    const pkg = optionalRequire.resolve('onnxruntime-node/package.json');
    return path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/**
 * ONNX Runtime's execution providers on this machine (for `cxr doctor` and the backend status): which the installed
 * onnxruntime-node offers, which a session would use, and why. Loads onnxruntime-node (its native binding) when present.
 */
export function onnxRuntimeReport(preference?: OrtProviderPreference): OnnxRuntimeReport {
  let pref: OrtProviderPreference;
  try {
    pref = preference ?? ortProviderPreferenceFromEnv();
  } catch (e) {
    return unavailable('auto', e instanceof Error ? e.message : String(e));
  }
  if (process.env.CXR_ONNXRUNTIME === 'off') return unavailable(pref, 'turned off by CXR_ONNXRUNTIME=off');
  let ort: OrtBinding;
  try {
    ort = optionalRequire('onnxruntime-node') as OrtBinding;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND' && String((e as Error).message).includes("'onnxruntime-node'");
    return unavailable(pref, missing ? 'onnxruntime-node is not installed next to CXR Studio' : `onnxruntime-node did not load: ${(e as Error).message.split('\n')[0]}`);
  }
  const bindingDir = ortBindingDir();
  if (typeof ort.listSupportedBackends !== 'function' || bindingDir == null) {
    return unavailable(pref, 'the installed onnxruntime-node cannot list its execution providers (needs 1.17 or newer)');
  }
  const plan = planOrtProviders({ supported: ort.listSupportedBackends(), bindingDir, preference: pref });
  const version = ort.env?.versions?.node ?? ort.env?.versions?.common ?? null;
  const inUse = lastSession != null ? `; the last session runs on ${lastSession.provider}` : '';
  const warnings = [...(plan.warning != null ? [plan.warning] : []), ...(lastSession?.warnings ?? [])];
  return {
    available: true,
    version,
    why: `onnxruntime-node ${version ?? '(version unknown)'}: sessions try ${plan.order.join(' then ')}${inUse}`,
    preference: pref,
    order: plan.order,
    providers: plan.statuses,
    warnings: [...new Set(warnings)],
  };
}

function unavailable(preference: string, why: string): OnnxRuntimeReport {
  return { available: false, version: null, why, preference, order: [], providers: [], warnings: [] };
}

import type { BackendName, BackendReport, RunConfig } from '../api';
import { CxrError } from '../errors';

/** Backends whose device can run out of memory or disappear under a running job. */
export const GPU_PATH_BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu'];

/** What TensorFlow (CUDA), Dawn and tfjs-backend-webgpu say when the device ran out of memory or went away. */
const DEVICE_FAILURE = [
  /OOM when allocating[^\n]*/i,
  /ResourceExhausted(?:Error)?[^\n]*/i,
  /CUDA_ERROR_[A-Z_]+[^\n]*/,
  /out of (?:device |GPU )?memory[^\n]*/i,
  /device (?:was |is |has been )?lost[^\n]*/i,
  /GPUDevice[^\n]*lost[^\n]*/i,
  /failed to allocate[^\n]*/i,
];

/** The failure's own words when `e` says the GPU ran out of memory or was lost; null for any other error. */
export function deviceFailureReason(e: unknown): string | null {
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  for (const pattern of DEVICE_FAILURE) {
    const m = pattern.exec(message);
    if (m) return m[0].trim().slice(0, 300);
  }
  return null;
}

export function onGpuPath(report: BackendReport): boolean {
  return GPU_PATH_BACKENDS.includes(report.name);
}

/**
 * A training that hits a device failure stops (a run never changes device mid-run) with an error that names the
 * reason and says how to continue on the CPU. Anything else passes through unchanged.
 */
export function trainingDeviceFailure(e: unknown, backend: BackendReport, runDir: string): CxrError | null {
  if (!onGpuPath(backend)) return null;
  const reason = deviceFailureReason(e);
  if (reason == null) return null;
  return new CxrError(
    'BACKEND_UNAVAILABLE',
    `Training stopped: ${backend.name} on ${backend.device.name} failed (${reason}). The run keeps its last finished epoch. ` +
      `A run does not change device by itself: resume it on the CPU (cxr train --resume --backend wasm, or set ` +
      `cxr.engineBackend to wasm and use Resume Training), or start it again with a smaller batch size.`,
    { runDir, deviceFailure: reason, backend: backend.name },
  );
}

/**
 * Stamps a new run with the backend and device it trains on; on resume, says so (as a warning) when the device
 * differs from the one the run started on.
 */
export function recordRunDevice(config: RunConfig, backend: BackendReport, resuming: boolean, warn: (message: string) => void): void {
  const now = { backend: backend.name, ...backend.device };
  if (config.device == null) {
    if (!resuming) config.device = now;
    return;
  }
  if (config.device.backend !== now.backend || config.device.name !== now.name) {
    warn(
      `This run started on ${config.device.backend} (${config.device.name}); this part trains on ${now.backend} (${now.name}). ` +
        'Numbers can differ slightly between devices.',
    );
  }
}

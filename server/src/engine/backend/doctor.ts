import type { BackendReport, DoctorReport } from '../api';
import { onnxRuntimeReport } from './ortReport';
import { prepareWebgpu } from './webgpu';

/**
 * Everything `cxr doctor` reports: the chosen backend, and for every backend and ONNX Runtime execution provider
 * whether it is available and why. Checks what a plain backend choice leaves unchecked (the opt-in WebGPU adapter).
 */
export async function doctorReport(backend: BackendReport): Promise<DoctorReport> {
  const candidates = await Promise.all(
    backend.candidates.map(async (c) => {
      if (c.name !== 'webgpu' || c.name === backend.name) return c;
      const probe = await prepareWebgpu();
      return probe.ok
        ? { ...c, available: true, why: `adapter found: ${probe.device.name} (Dawn ${probe.dawnVersion}); opt-in only (cxr.engineBackend: webgpu, or --backend webgpu), never chosen automatically` }
        : { ...c, available: false, why: probe.why };
    }),
  );
  return { ...backend, candidates, onnxRuntime: onnxRuntimeReport(), process: { glibcTunables: process.env.GLIBC_TUNABLES ?? null } };
}

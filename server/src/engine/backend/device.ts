import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import type { ComputeDevice } from '../api';

/** The host CPU, for the cpu and wasm backends (wasm uses one thread under Node). */
export function cpuDevice(note: string): ComputeDevice {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() || os.arch();
  return { kind: 'cpu', name: `${model} (${note}; ${cpus.length} logical cores on this machine)` };
}

/**
 * tfjs-node reports no device. The GPU build runs on the first NVIDIA GPU that CUDA sees, when the CUDA and cuDNN
 * versions it was built for are installed, else on the CPU (libtensorflow logs which on stderr, in the backend log).
 */
export function tensorflowDevice(packageName: string): ComputeDevice {
  if (!packageName.endsWith('-gpu')) return cpuDevice('native TensorFlow, all cores');
  const gpus = nvidiaGpus();
  if (gpus.length === 0) {
    return { kind: 'cpu', name: 'CPU: tfjs-node-gpu is loaded but nvidia-smi lists no NVIDIA GPU (TensorFlow then runs on the CPU)' };
  }
  return { kind: 'gpu', name: `${gpus[0]} (first of ${gpus.length} NVIDIA GPU(s) listed by nvidia-smi; TensorFlow uses it when CUDA 11.2 and cuDNN 8.1 are installed)` };
}

/** WebGPU adapter info, as Dawn reports it. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

export function webgpuDevice(info: AdapterInfoLike): ComputeDevice {
  const parts = [info.description, info.vendor && `vendor ${info.vendor}`, info.architecture && `architecture ${info.architecture}`].filter(Boolean);
  const name = parts.length > 0 ? parts.join(', ') : 'WebGPU adapter (no name reported)';
  const software = info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(`${info.description} ${info.architecture} ${info.device}`);
  return software ? { kind: 'gpu', name: `${name} (software emulation on the CPU)`, software: true } : { kind: 'gpu', name };
}

/** GPU names from nvidia-smi, empty when it is missing or lists none. */
export function nvidiaGpus(): string[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
      windowsHide: true,
    });
    return out.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => l.replace(/,\s*/, ', '));
  } catch {
    return [];
  }
}

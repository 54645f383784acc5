import type { ComputeDevice } from '../../common/src/protocol';

/** "GPU: NVIDIA GeForce RTX 4090 (...)" / "CPU: AMD EPYC (...)", as the status bar and messages show it. */
export function describeDevice(device: ComputeDevice | undefined): string {
  if (!device) return 'unknown device';
  return `${device.kind === 'gpu' && !device.software ? 'GPU' : 'CPU'}: ${device.name}`;
}

/** The short form for the status bar text. */
export function deviceKind(device: ComputeDevice | undefined): string {
  if (!device) return '';
  return device.kind === 'gpu' && !device.software ? 'GPU' : 'CPU';
}

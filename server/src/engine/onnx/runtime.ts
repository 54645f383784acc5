import * as os from 'node:os';
import type * as ortTypes from 'onnxruntime-node';
import { createWithProviderFallback } from '../backend/ortProviders';
import { ortSessionPlan, recordOrtSession } from '../backend/ortReport';

type Ort = typeof ortTypes;

export interface OrtStatus {
  available: boolean;
  /** onnxruntime-node's version when it loaded; why not, otherwise. */
  version?: string;
  reason?: string;
  /** Intra-op threads every session uses: one per core. */
  threads: number;
}

let loaded: { ort: Ort | null; status: OrtStatus } | null = null;

/**
 * onnxruntime-node, loaded on first use. Optional: when it is missing, cannot load its native binary, or
 * CXR_ONNXRUNTIME=off, every caller falls back to tfjs and the status says why.
 */
export function loadOrt(): Ort | null {
  if (loaded) return loaded.ort;
  const threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  if (process.env.CXR_ONNXRUNTIME === 'off') {
    loaded = { ort: null, status: { available: false, reason: 'turned off by CXR_ONNXRUNTIME=off', threads } };
    return null;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as Ort;
    loaded = { ort, status: { available: true, version: ort.env.versions?.node ?? 'unknown', threads } };
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    loaded = { ort: null, status: { available: false, reason: `onnxruntime-node did not load: ${reason}`, threads } };
  }
  return loaded.ort;
}

export function ortStatus(): OrtStatus {
  loadOrt();
  return loaded!.status;
}

/** What BackendReport.gradientFree says. */
export function gradientFreeEngine(): { engine: 'onnxruntime' | 'tfjs'; version?: string; threads?: number; reason?: string } {
  const s = ortStatus();
  return s.available
    ? { engine: 'onnxruntime', version: s.version, threads: s.threads }
    : { engine: 'tfjs', reason: s.reason };
}

/**
 * The options every session shares. Spinning is off: ONNX Runtime's idle threads otherwise busy-wait between runs,
 * and on a machine with few cores they take the CPU from the decoding and from the backend's main thread (2 cores,
 * during a training: backendStatus answered in 5.0-7.4 ms with spinning, 4.0-4.4 ms without; 2.6-3.6 ms idle).
 */
export function ortSessionOptions(executionProviders: ortTypes.InferenceSession.SessionOptions['executionProviders']): ortTypes.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: ortStatus().threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    executionProviders,
    // The memory pattern plans a new block for every input shape on its second run, which pages in the whole working
    // set once more (MobileNetV2, batch 16: the second run took 162-182 ms instead of 60); the arena alone reuses it.
    enableMemPattern: false,
    extra: { session: { intra_op: { allow_spinning: process.env.CXR_ORT_SPINNING === 'on' ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/**
 * On the CPU a pass runs at most this many images at a time. Larger batches gain little per image (MobileNetV2 on 2
 * threads, warm: 3.8 ms at 16, 4.1 at 4) but the first run of a larger batch pages in a larger working set (450 ms
 * at 16, 110 at 4), a cost every short-lived process (evaluate, cam-grid, a cold training) pays. GPU providers
 * take the caller's batch whole.
 */
export const CPU_RUN_BATCH = 4;

/** A loaded ONNX model: NHWC float32 in, named float32 outputs. */
export class OrtModel {
  private constructor(
    private readonly ort: Ort,
    private readonly session: ortTypes.InferenceSession,
    readonly inputName: string,
    readonly outputNames: string[],
    /** The most images one session run takes. */
    private readonly runBatch: number,
  ) {}

  static async create(ort: Ort, bytes: Uint8Array, inputName: string, outputNames: string[]): Promise<OrtModel> {
    // The platform's GPU provider when there is one (backend/ortProviders.ts), else the CPU; a GPU provider that
    // fails to start falls back to the CPU with a warning.
    const made = await createWithProviderFallback(ortSessionPlan(ort), (executionProviders) =>
      ort.InferenceSession.create(bytes, ortSessionOptions(executionProviders)),
    );
    recordOrtSession(made);
    return new OrtModel(ort, made.session, inputName, outputNames, made.provider === 'cpu' ? CPU_RUN_BATCH : Infinity);
  }

  /**
   * `batch`: n images of h*w*c (dims [n, h, w, c]), run at most CPU_RUN_BATCH at a time on the CPU; returns each
   * output's data for all n, in outputNames order. Every output's first dimension must be the image.
   */
  async runImages(batch: Float32Array, dims: number[]): Promise<Float32Array[]> {
    const [n, ...image] = dims;
    if (n <= this.runBatch) return this.run(batch, dims);
    const perImage = image.reduce((a, b) => a * b, 1);
    const parts: Float32Array[][] = [];
    for (let start = 0; start < n; start += this.runBatch) {
      const k = Math.min(this.runBatch, n - start);
      parts.push(await this.run(batch.subarray(start * perImage, (start + k) * perImage), [k, ...image]));
    }
    return this.outputNames.map((_, o) => concatFloat32(parts.map((p) => p[o])));
  }

  /** One session run of the whole input (`dims` its shape); returns each output's data, in outputNames order. */
  async run(input: Float32Array, dims: number[]): Promise<Float32Array[]> {
    const out = await this.session.run({ [this.inputName]: new this.ort.Tensor('float32', input, dims) });
    return this.outputNames.map((n) => out[n].data as Float32Array);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function concatFloat32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Every failure the engine reports on purpose is a CxrError: a stable machine-readable code, a message that
 * says what went wrong and what to do, and optional plain-data details. Fronts (CLI, language server) map the
 * code to an exit status or a JSON-RPC error without parsing messages.
 */
export type CxrErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'OUTSIDE_ALLOWED_ROOTS'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_IMAGE'
  | 'IMAGE_TOO_LARGE'
  | 'DATASET_INVALID'
  | 'WEIGHTS_INVALID'
  | 'MODEL_INVALID'
  | 'RUN_INVALID'
  | 'BUSY'
  | 'CANCELLED'
  | 'BACKEND_UNAVAILABLE'
  /** A FIFO, a device, a socket or a folder where a regular file was expected. */
  | 'NOT_A_FILE'
  /** An output path of the wrong kind: --out naming a file where a folder is written, or the reverse. */
  | 'OUTPUT_INVALID'
  /** Writing failed for a reason of the disk: full, read-only, no permission. The folder is named. */
  | 'STORAGE_FAILED'
  /** NaN or infinite numbers: in weights, in predictions, or a diverged training. */
  | 'NON_FINITE'
  | 'INTERNAL';

export class CxrError extends Error {
  /**
   * A library's own wording of the failure (a decoder's message, say): for the log only. It is neither part of the
   * message nor of the details, which both reach the user.
   */
  diagnostic?: string;

  constructor(
    readonly code: CxrErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CxrError';
  }

  /** This error with `diagnostic` attached (for the log only); returns it, to be thrown. */
  withDiagnostic(diagnostic: string | undefined): this {
    if (diagnostic) this.diagnostic = diagnostic;
    return this;
  }
}

export function isCxrError(e: unknown): e is CxrError {
  return e instanceof CxrError;
}

/** Wraps anything thrown into a CxrError, keeping the original message. */
export function toCxrError(e: unknown): CxrError {
  if (isCxrError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CxrError('INTERNAL', message);
}

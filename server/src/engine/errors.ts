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
  | 'INTERNAL';

export class CxrError extends Error {
  constructor(
    readonly code: CxrErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CxrError';
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

import { ResponseError } from 'vscode-languageserver/node';
import { JSON_RPC_ERROR_CODES, type CxrErrorData } from '../../../common/src/protocol';
import { CxrError, isCxrError } from '../engine/errors';

/**
 * Turns anything a handler threw into the JSON-RPC error the contract promises: a CxrError keeps its code, message
 * and details (its diagnostic goes to the log only); anything else is logged with its stack (for us) and answered as INTERNAL (for the client).
 */
export function toResponseError(e: unknown, log: (msg: string) => void): ResponseError<CxrErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<CxrErrorData>;
  const err = isCxrError(e) ? e : unexpected(e, log);
  // A library's own wording (a decoder's message) is for us, not for the user: logged, never sent.
  if (err.diagnostic) log(`${err.code}: ${err.message} [${err.diagnostic}]`);
  const data: CxrErrorData = err.details === undefined ? { code: err.code } : { code: err.code, details: err.details };
  return new ResponseError(JSON_RPC_ERROR_CODES[err.code], err.message, data);
}

function unexpected(e: unknown, log: (msg: string) => void): CxrError {
  const message = e instanceof Error ? e.message : String(e);
  log(`Unexpected error: ${e instanceof Error && e.stack ? e.stack : message}`);
  return new CxrError('INTERNAL', `Internal error in the CXR Studio backend: ${message}. See the CXR Studio log for details.`);
}

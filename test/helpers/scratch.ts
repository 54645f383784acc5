import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after } from 'node:test';
import { CxrError } from '../../server/src/engine/errors';
import { tmpDir } from './shared';

/** Temp folders removed when the calling test file's tests end. */
export function scratchDirFactory(): (prefix: string) => string {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  return (prefix) => {
    const dir = tmpDir(prefix);
    dirs.push(dir);
    return dir;
  };
}

/** Awaits a promise that must fail with a CxrError of `code` whose message matches. */
export async function rejectsWithCxrError(promise: Promise<unknown>, code: string, message: RegExp): Promise<CxrError> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CxrError, `expected a CxrError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}

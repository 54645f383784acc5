import * as path from 'node:path';

/** Whether `child` is `parent` or lies under it (both resolved; no file system access). */
export function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

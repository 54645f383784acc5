import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../engine/errors';

/** What a checked path is for; named in errors instead of the path's contents. */
export type PathKind =
  | 'dataset'
  | 'run folder'
  | 'runs folder'
  | 'weights file'
  | 'labels file'
  | 'image'
  | 'output folder'
  | 'output file'
  | 'folder to scan';

interface Root {
  given: string;
  real: string;
}

/**
 * The folders requests may name: the workspace folders, cxr.dataRoots, the runs and models directories, as the
 * client reports them. Containment is decided on real paths, so neither `..` nor a symlink inside a root can reach
 * outside it. Paths that do not exist yet (a new run folder, an output file) are judged by their nearest existing
 * ancestor.
 */
export class PathGuard {
  private roots: Root[] = [];

  setRoots(roots: readonly string[]): string[] {
    for (const r of roots) {
      if (!path.isAbsolute(r)) throw new CxrError('INVALID_ARGUMENT', `Allowed roots must be absolute paths (got a relative one).`, { root: r });
    }
    this.roots = roots.map((r) => {
      const given = path.resolve(r);
      return { given, real: realPathOf(given) ?? given };
    });
    return this.realRoots();
  }

  realRoots(): string[] {
    return this.roots.map((r) => r.real);
  }

  /** Returns the absolute, normalised path (symlinks kept, as the client named it); throws if it is not allowed. */
  check(p: string, kind: PathKind): string {
    if (!path.isAbsolute(p)) {
      throw new CxrError('INVALID_ARGUMENT', `The ${kind} path must be absolute.`, { kind, path: p });
    }
    const resolved = path.resolve(p);
    if (!this.contains(resolved)) {
      const where = this.roots.length === 0
        ? 'No folders are allowed yet (the client has not sent cxr/setAllowedRoots).'
        : 'It is outside the folders CXR Studio may access (the workspace folders, cxr.dataRoots, the runs and models directories).';
      throw new CxrError(
        'OUTSIDE_ALLOWED_ROOTS',
        `The ${kind} cannot be used. ${where} Add a folder that contains it to the cxr.dataRoots setting or open it as a workspace folder.`,
        { kind, path: p },
      );
    }
    return resolved;
  }

  checkOptional(p: string | undefined, kind: PathKind): string | undefined {
    return p === undefined ? undefined : this.check(p, kind);
  }

  contains(absolutePath: string): boolean {
    const real = realPathOf(absolutePath);
    if (real === null) return false;
    return this.roots.some((root) => isInside(root.real, real));
  }
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The real path of `p`, or for a path that does not exist yet the real path of its nearest existing ancestor joined
 * with the missing tail. null when a component exists but cannot be resolved (a dangling symlink: where it would
 * lead is unknowable, so it is refused).
 */
function realPathOf(p: string): string | null {
  const tail: string[] = [];
  let current = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(current), ...tail);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return null;
      if (isSymlink(current)) return null;
    }
    const parent = path.dirname(current);
    if (parent === current) return null;
    tail.unshift(path.basename(current));
    current = parent;
  }
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

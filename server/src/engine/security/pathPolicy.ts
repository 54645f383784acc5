import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../errors';

/** What a checked path is for; named in errors instead of the path's contents. */
export type PathKind =
  | 'dataset'
  | 'run folder'
  | 'runs folder'
  | 'weights file'
  | 'weight shard'
  | 'labels file'
  | 'image'
  | 'output folder'
  | 'output file'
  | 'folder to scan'
  | 'dataset folder'
  | 'run file';

/**
 * Which files the engine may open. The language server restricts every read and write, including the indirect ones
 * (a CSV row, a symlinked image or folder, the dataset recorded in a run's config, a shard named by a weights
 * manifest, a symlinked folder inside a run), to its allowed roots; the CLI runs unrestricted.
 */
export interface PathPolicy {
  readonly restricted: boolean;
  /**
   * Returns the absolute, normalised path, or throws OUTSIDE_ALLOWED_ROOTS when its real path (symlinks resolved at
   * every level) is outside the allowed roots. `via` says who named the path ("on line 4 of labels.csv"). The error
   * is the same whether or not the refused file exists.
   */
  check(p: string, kind: PathKind, via?: string): string;
  /** Whether `p` is one of the allowed roots itself (never deleted as if it were a run). */
  isRoot(p: string): boolean;
}

export const UNRESTRICTED: PathPolicy = {
  restricted: false,
  check: (p) => path.resolve(p),
  isRoot: () => false,
};

interface Root {
  given: string;
  real: string;
}

/**
 * Allowed roots decided on real paths, so neither `..` nor a symlink inside a root can reach outside it. Paths that
 * do not exist yet (a new run folder, an output file) are judged by their nearest existing ancestor; a dangling
 * symlink is refused (where it would lead is unknowable).
 */
export class AllowedRoots implements PathPolicy {
  readonly restricted = true;
  private roots: Root[] = [];

  constructor(roots: readonly string[] = []) {
    this.setRoots(roots);
  }

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

  check(p: string, kind: PathKind, via?: string): string {
    if (!path.isAbsolute(p)) {
      throw new CxrError('INVALID_ARGUMENT', `The ${kind} path must be absolute.`, { kind, path: p });
    }
    const resolved = path.resolve(p);
    if (!this.contains(resolved)) throw outsideRoots(kind, p, via, this.roots.length === 0);
    return resolved;
  }

  isRoot(p: string): boolean {
    const real = realPathOf(path.resolve(p));
    return real !== null && this.roots.some((root) => root.real === real || root.given === path.resolve(p));
  }

  contains(absolutePath: string): boolean {
    const real = realPathOf(absolutePath);
    if (real === null) return false;
    return this.roots.some((root) => isInside(root.real, real));
  }
}

function outsideRoots(kind: PathKind, p: string, via: string | undefined, noRoots: boolean): CxrError {
  const where = noRoots
    ? 'No folders are allowed yet (the client has not sent cxr/setAllowedRoots).'
    : 'It is outside the folders CXR Studio may access (the workspace folders, cxr.dataRoots, the runs and models directories), or it is a link that leads there or nowhere.';
  return new CxrError(
    'OUTSIDE_ALLOWED_ROOTS',
    `The ${kind}${via ? ` ${via}` : ''} cannot be used. ${where} Add a folder that contains it to the cxr.dataRoots setting or open it as a workspace folder.`,
    via ? { kind, via } : { kind, path: p },
  );
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * The real path of `p`, or for a path that does not exist yet the real path of its nearest existing ancestor joined
 * with the missing tail. null when a component exists but cannot be resolved (a dangling symlink, a loop).
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

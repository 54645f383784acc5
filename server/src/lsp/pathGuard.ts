import { AllowedRoots, type PathKind } from '../engine/security/pathPolicy';

export type { PathKind };

/**
 * The backend's guard: the folders requests may name (the workspace folders, cxr.dataRoots, the runs and models
 * directories, as the client reports them). It is also the engine's path policy, so the files those paths lead to
 * (CSV rows, symlinks, recorded configs, manifest shards) are held to the same roots; see engine/security/pathPolicy.ts.
 */
export class PathGuard extends AllowedRoots {
  checkOptional(p: string | undefined, kind: PathKind): string | undefined {
    return p === undefined ? undefined : this.check(p, kind);
  }
}

import * as fs from 'node:fs';

/** glibc's malloc tunable that asks for transparent huge pages on the large blocks it maps (glibc 2.35 and later). */
export const HUGE_PAGES_TUNABLE = 'glibc.malloc.hugetlb=1';
/** CXR_HUGE_PAGES=off starts the engine's processes without the tunable. */
const HUGE_PAGES_ENV = 'CXR_HUGE_PAGES';

/**
 * The environment to start an engine process with (the language server, the CLI): on Linux with glibc and
 * transparent huge pages in madvise mode, GLIBC_TUNABLES gains glibc.malloc.hugetlb=1, so malloc's large blocks (the
 * decoded images, ONNX Runtime's arena, tfjs's wasm heap) are backed by 2 MB pages. On the 2-core development VM a
 * short run spent much of its time in page faults: the cold reference job took about 10% less (BENCHMARKS.md).
 * Null when nothing would change: another system, huge pages always on or never, the tunable already set, or
 * CXR_HUGE_PAGES=off. glibc reads the tunable only at start-up, so it has to be in the environment of a new process.
 */
export function hugePagesEnv(env: NodeJS.ProcessEnv, system: HugePagesSystem = thisSystem()): NodeJS.ProcessEnv | null {
  if (env[HUGE_PAGES_ENV] === 'off' || !system.glibc || system.transparentHugePages !== 'madvise') return null;
  const tunables = env.GLIBC_TUNABLES ?? '';
  if (tunables.split(':').some((t) => t.startsWith('glibc.malloc.hugetlb='))) return null;
  return { ...env, GLIBC_TUNABLES: tunables ? `${tunables}:${HUGE_PAGES_TUNABLE}` : HUGE_PAGES_TUNABLE };
}

export interface HugePagesSystem {
  glibc: boolean;
  /** The kernel's transparent huge page mode, or null where there is none to read. */
  transparentHugePages: 'always' | 'madvise' | 'never' | null;
}

function thisSystem(): HugePagesSystem {
  if (process.platform !== 'linux') return { glibc: false, transparentHugePages: null };
  let header: { glibcVersionRuntime?: string } | undefined;
  try {
    header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  } catch {
    // a host without diagnostic reports (an embedding runtime may leave them out): start the process as it is
    return { glibc: false, transparentHugePages: null };
  }
  let mode: HugePagesSystem['transparentHugePages'] = null;
  try {
    const selected = /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
    if (selected === 'always' || selected === 'madvise' || selected === 'never') mode = selected;
  } catch {
    // no transparent huge pages in this kernel (or no /sys): nothing to ask for
  }
  return { glibc: typeof header?.glibcVersionRuntime === 'string', transparentHugePages: mode };
}

import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir, featureCacheEnabled } from '../cache/featureCache';

let cached: { root: string | null } | null = null;

/** How long a remembered answer is trusted even when nothing it depends on visibly changed. */
export const NPM_ROOT_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * The global npm root (`npm root -g`), where `npm install -g @tensorflow/tfjs-node-gpu` puts it; null when npm is not
 * on the PATH. Asked once per thread: npm honours npm_config_prefix and .npmrc, which a guess from the Node binary's
 * folder would not (and inside VS Code the binary is Electron's). Starting npm costs a few hundred milliseconds on
 * every engine start, so the answer is remembered in the cache folder, keyed by what npm's answer depends on
 * (see npmRootKey), for at most a day.
 */
export function globalNpmRoot(): string | null {
  if (cached == null) cached = { root: rememberedNpmRoot(askNpm) };
  return cached.root;
}

/** What `npm root -g` depends on: which npm (PATH, the Node binary), its prefix settings and the npmrc files. */
export function npmRootKey(env: NodeJS.ProcessEnv = process.env): string {
  const home = os.homedir();
  const stamp = (file: string): string => {
    const s = fs.statSync(file, { throwIfNoEntry: false });
    return s ? `${s.size}:${s.mtimeMs}` : '-';
  };
  const parts = {
    v: 1,
    execPath: process.execPath,
    platform: process.platform,
    cwd: process.cwd(), // a project .npmrc applies to npm started here
    env: Object.fromEntries(Object.entries(env).filter(([k]) => /^(PATH|HOME|USERPROFILE|APPDATA|PREFIX)$|^npm_config_/i.test(k)).sort()),
    userrc: stamp(env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? path.join(home, '.npmrc')),
    projectrc: stamp(path.join(process.cwd(), '.npmrc')),
    globalrc: stamp(path.join(path.dirname(path.dirname(process.execPath)), 'etc', 'npmrc')),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * `ask()`'s answer, from <cache>/env/npm-root-<key>.json when one younger than NPM_ROOT_MAX_AGE_MS is there, else
 * asked and stored. Nothing is read or written with the cache off (CXR_FEATURE_CACHE=off) or unwritable.
 */
export function rememberedNpmRoot(ask: () => string | null, env: NodeJS.ProcessEnv = process.env, dir = cacheDir(), now = Date.now()): string | null {
  if (!featureCacheEnabled()) return ask();
  const file = memoFile(env, dir);
  const known = readMemo(file, now);
  if (known) return known.root;
  const root = ask();
  writeMemo(file, root, now);
  return root;
}

/**
 * Settles globalNpmRoot()'s answer without blocking this thread: the remembered answer, else npm started
 * asynchronously (a training's dataset audit goes on meanwhile; the synchronous question held the thread for about
 * 0.3 s). Later globalNpmRoot() calls return it at once.
 */
export async function resolveGlobalNpmRoot(): Promise<string | null> {
  if (cached != null) return cached.root;
  const file = featureCacheEnabled() ? memoFile(process.env, cacheDir()) : null;
  const known = file ? readMemo(file, Date.now()) : null;
  const root = known ? known.root : await askNpmAsync();
  if (!known && file) writeMemo(file, root, Date.now());
  cached ??= { root };
  return cached.root;
}

function memoFile(env: NodeJS.ProcessEnv, dir: string): string {
  return path.join(dir, 'env', `npm-root-${npmRootKey(env)}.json`);
}

function readMemo(file: string, now: number): { root: string | null } | null {
  try {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { root?: unknown; at?: unknown };
    const fresh = typeof stored.at === 'number' && now - stored.at >= 0 && now - stored.at < NPM_ROOT_MAX_AGE_MS;
    if (fresh && (stored.root === null || typeof stored.root === 'string')) return { root: stored.root };
  } catch {
    // not remembered yet (or damaged)
  }
  return null;
}

function writeMemo(file: string, root: string | null, now: number): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ root, at: now }));
    fs.renameSync(tmp, file);
  } catch {
    // a cache that cannot be written only costs the next start the same question
  }
}

const NPM_COMMAND = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_OPTIONS = { encoding: 'utf8', timeout: 10_000, shell: process.platform === 'win32', windowsHide: true } as const;

function askNpmAsync(): Promise<string | null> {
  return new Promise((resolve) => {
    const child = execFile(NPM_COMMAND, ['root', '-g'], NPM_OPTIONS, (error, stdout) => {
      const out = error ? '' : stdout.trim();
      resolve(out !== '' ? out : null);
    });
    child.stdin?.end();
  });
}

function askNpm(): string | null {
  try {
    const out = execFileSync(NPM_COMMAND, ['root', '-g'], { ...NPM_OPTIONS, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out !== '' ? out : null;
  } catch {
    return null;
  }
}

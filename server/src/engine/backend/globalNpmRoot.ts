import { execFileSync } from 'node:child_process';

let cached: { root: string | null } | null = null;

/**
 * The global npm root (`npm root -g`), where `npm install -g @tensorflow/tfjs-node-gpu` puts it; null when npm is not
 * on the PATH. Asked once per thread: npm honours npm_config_prefix and .npmrc, which a guess from the Node binary's
 * folder would not (and inside VS Code the binary is Electron's).
 */
export function globalNpmRoot(): string | null {
  if (cached == null) cached = { root: askNpm() };
  return cached.root;
}

function askNpm(): string | null {
  try {
    const out = execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['root', '-g'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
      shell: process.platform === 'win32',
      windowsHide: true,
    }).trim();
    return out !== '' ? out : null;
  } catch {
    return null;
  }
}

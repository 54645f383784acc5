import * as fs from 'node:fs';
import * as path from 'node:path';

/** The extension's version from its package.json, found above this module both from source and from dist/. */
export function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'cxr-studio' && pkg.version) return pkg.version;
      } catch {
        // Not ours or unreadable: keep looking upwards.
      }
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

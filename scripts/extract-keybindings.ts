/**
 * Writes test/tooling/keybindings-in-use.json: the keys VS Code binds by default on Linux, Windows and macOS (every
 * release the extension supports, from the `engines.vscode` floor on), and the keys common extensions contribute.
 * test/tooling/keybindings.test.ts fails when a keybinding in package.json takes one of them.
 *
 * Sources (git directories of clones; nothing is downloaded here):
 *   --vscode-dumps DIR   a clone of https://github.com/codebling/vs-code-default-keybindings, whose
 *                        {linux,windows,macos}.keybindings.json are VS Code's "Open Default Keyboard Shortcuts (JSON)"
 *                        output, one commit per VS Code release ("Update for VSCode X.Y.Z")
 *   --extension DIR[:PATH]  a clone of an extension's repository; PATH is its manifest (default package.json)
 *   --since X.Y.Z        the oldest VS Code release to include (default 1.91.0, package.json's engines.vscode)
 *
 * usage: node --import tsx scripts/extract-keybindings.ts --vscode-dumps DIR [--extension DIR[:PATH]]...
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

type Platform = 'linux' | 'windows' | 'macos';
const PLATFORMS: readonly Platform[] = ['linux', 'windows', 'macos'];
type KeyMap = Record<string, string[]>;

interface ExtensionKeybinding {
  command: string;
  key?: string;
  mac?: string;
  linux?: string;
  win?: string;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

/** The clone's origin URL, or for a mirror folder named `owner+name/repo` (no remote) its GitHub address. */
function originOf(dir: string): string {
  try {
    return git(dir, 'config', '--get', 'remote.origin.url').trim();
  } catch {
    const folder = path.basename(path.dirname(path.resolve(dir)));
    return folder.includes('+') ? `https://github.com/${folder.replace('+', '/')}` : folder;
  }
}

function versionParts(version: string): number[] {
  return version.split('.').map((part) => Number(part));
}

function atLeast(version: string, floor: string): boolean {
  const a = versionParts(version);
  const b = versionParts(floor);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** The dumps are JSON with `//` comment lines (no comments inside strings). */
function parseDump(text: string): Array<{ key: string; command: string }> {
  const json = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('//'))
    .join('\n');
  return JSON.parse(json) as Array<{ key: string; command: string }>;
}

function add(map: KeyMap, key: string, command: string): void {
  const list = (map[key] ??= []);
  if (!list.includes(command)) list.push(command);
}

function sorted(map: KeyMap): KeyMap {
  return Object.fromEntries(
    Object.keys(map)
      .sort()
      .map((key) => [key, [...map[key]].sort()]),
  );
}

function main(): void {
  const args = process.argv.slice(2);
  let dumps: string | undefined;
  let since = '1.91.0';
  const extensions: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--vscode-dumps') dumps = args[++i];
    else if (args[i] === '--since') since = args[++i];
    else if (args[i] === '--extension') extensions.push(args[++i]);
    else throw new Error(`unknown argument: ${args[i]}`);
  }
  if (!dumps) throw new Error('--vscode-dumps DIR is required');

  const defaults: Record<Platform, KeyMap> = { linux: {}, windows: {}, macos: {} };
  const releases: string[] = [];
  const commits = git(dumps, 'log', '--format=%H %s', '--', 'linux.keybindings.json').trim().split('\n');
  for (const line of commits) {
    const match = /^(\w+) Update for VSCode (\d+\.\d+(?:\.\d+)?)$/.exec(line);
    if (!match || !atLeast(match[2], since)) continue;
    releases.push(match[2]);
    for (const platform of PLATFORMS) {
      for (const binding of parseDump(git(dumps, 'show', `${match[1]}:${platform}.keybindings.json`))) {
        if (!binding.command.startsWith('-')) add(defaults[platform], binding.key, binding.command);
      }
    }
  }
  if (releases.length === 0) throw new Error(`no "Update for VSCode" commits at or after ${since} in ${dumps}`);
  const dumpsCommit = git(dumps, 'rev-parse', 'HEAD').trim();

  const fromExtensions: Record<Platform, KeyMap> = { linux: {}, windows: {}, macos: {} };
  const extensionSources: string[] = [];
  for (const spec of extensions) {
    const [dir, manifestPath = 'package.json'] = spec.split(':');
    const manifest = JSON.parse(git(dir, 'show', `HEAD:${manifestPath}`)) as {
      publisher: string;
      name: string;
      version: string;
      contributes?: { keybindings?: ExtensionKeybinding | ExtensionKeybinding[] };
    };
    const id = `${manifest.publisher}.${manifest.name}`;
    const remote = originOf(dir);
    extensionSources.push(`${id} ${manifest.version} (${remote} ${manifestPath} at ${git(dir, 'rev-parse', 'HEAD').trim()})`);
    const list = manifest.contributes?.keybindings ?? [];
    for (const binding of Array.isArray(list) ? list : [list]) {
      const perPlatform: Record<Platform, string | undefined> = {
        linux: binding.linux ?? binding.key,
        windows: binding.win ?? binding.key,
        macos: binding.mac ?? binding.key,
      };
      for (const platform of PLATFORMS) {
        const key = perPlatform[platform];
        if (key) add(fromExtensions[platform], key, `${id}: ${binding.command}`);
      }
    }
  }

  const out = {
    about:
      'Keys taken by VS Code and by common extensions, per platform (key as written there -> commands). ' +
      'Written by scripts/extract-keybindings.ts; read by test/tooling/keybindings.test.ts.',
    vscodeDefaults: {
      source: `${originOf(dumps)} at ${dumpsCommit}: VS Code's default keybindings per platform, union over releases ${releases[releases.length - 1]} to ${releases[0]}`,
      releases: releases.length,
      linux: sorted(defaults.linux),
      windows: sorted(defaults.windows),
      macos: sorted(defaults.macos),
    },
    extensions: {
      source: extensionSources,
      linux: sorted(fromExtensions.linux),
      windows: sorted(fromExtensions.windows),
      macos: sorted(fromExtensions.macos),
    },
  };
  const target = path.resolve(__dirname, '..', 'test', 'tooling', 'keybindings-in-use.json');
  // One line per key: arrays of command ids stay on the key's line.
  const text = JSON.stringify(out, null, 1).replace(/\[\n\s*((?:"[^"\n]*",?\n\s*)+)\]/g, (_all, items: string) =>
    `[${items.replace(/\n\s*/g, ' ').trim()}]`,
  );
  fs.writeFileSync(target, `${text}\n`);
  console.log(`wrote ${target}: ${releases.length} VS Code releases, ${extensionSources.length} extensions`);
}

main();

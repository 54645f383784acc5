/**
 * No contributed keybinding (package.json `contributes.keybindings`) takes a key that VS Code binds by default on
 * Linux, Windows or macOS, or that a common extension contributes (issue 8, "contributed keybindings").
 * test/tooling/keybindings-in-use.json lists those keys; its `source` fields say where they come from (VS Code's
 * default keybindings per platform for every release from 1.91.0, the `engines.vscode` floor, and the manifests
 * of common extensions), and scripts/extract-keybindings.ts rewrites it. `when` clauses are ignored on purpose:
 * two bindings of one key whose contexts overlap (an image selected in the explorer, say) fight over it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');

type Platform = 'linux' | 'windows' | 'macos';
const PLATFORMS: readonly Platform[] = ['linux', 'windows', 'macos'];
type KeyMap = Record<string, string[]>;

interface ContributedKeybinding {
  command: string;
  key: string;
  mac?: string;
  linux?: string;
  win?: string;
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { keybindings: ContributedKeybinding[] };
};
const inUse = JSON.parse(fs.readFileSync(path.join(__dirname, 'keybindings-in-use.json'), 'utf8')) as {
  vscodeDefaults: { source: string } & Record<Platform, KeyMap>;
  extensions: { source: string[] } & Record<Platform, KeyMap>;
};

const MODIFIER_ORDER = ['ctrl', 'shift', 'alt', 'meta'];

/** One spelling per key press: lower case, `cmd`/`win`/`meta` as `meta`, modifiers in one order; chords kept. */
function normaliseKey(key: string): string {
  return key
    .trim()
    .toLowerCase()
    .split(/\s+/)
    .map((press) => {
      // A press ending in '++' is the '+' key itself.
      const plusKey = press.endsWith('++');
      const parts = (plusKey ? press.slice(0, -2) : press).split('+').filter((part) => part !== '');
      const last = plusKey ? '+' : (parts.pop() ?? '');
      const modifiers = [...new Set(parts.map((m) => (m === 'cmd' || m === 'win' || m === 'meta' ? 'meta' : m)))];
      modifiers.sort((a, b) => MODIFIER_ORDER.indexOf(a) - MODIFIER_ORDER.indexOf(b));
      return [...modifiers, last].join('+');
    })
    .join(' ');
}

function keyFor(binding: ContributedKeybinding, platform: Platform): string {
  if (platform === 'macos') return binding.mac ?? binding.key;
  if (platform === 'linux') return binding.linux ?? binding.key;
  return binding.win ?? binding.key;
}

/**
 * What an existing binding map says about `key`: the same press (or chord), a chord that starts with this single
 * press (which this binding would swallow), or a single press this chord starts with (which would fire first).
 */
function clashes(key: string, taken: KeyMap): string[] {
  const ours = normaliseKey(key);
  const oursFirst = ours.split(' ')[0];
  const found: string[] = [];
  for (const [theirKey, commands] of Object.entries(taken)) {
    const theirs = normaliseKey(theirKey);
    const theirsFirst = theirs.split(' ')[0];
    const same = theirs === ours;
    const theirChordAfterOurPress = !ours.includes(' ') && theirs.includes(' ') && theirsFirst === ours;
    const ourChordAfterTheirPress = ours.includes(' ') && !theirs.includes(' ') && oursFirst === theirs;
    if (same || theirChordAfterOurPress || ourChordAfterTheirPress) found.push(`${theirKey} (${commands.join(', ')})`);
  }
  return found;
}

test('the key lists are loaded, stated with their source, and cover the three platforms', () => {
  assert.match(inUse.vscodeDefaults.source, /vs-code-default-keybindings at [0-9a-f]{40}/);
  assert.ok(inUse.extensions.source.length >= 10, 'common extensions listed');
  for (const platform of PLATFORMS) {
    assert.ok(Object.keys(inUse.vscodeDefaults[platform]).length > 300, `${platform} default keys`);
    assert.ok(Object.keys(inUse.extensions[platform]).length > 100, `${platform} extension keys`);
  }
  // Keys known to be bound: the check below would be blind if these were not found.
  assert.match(clashes('ctrl+shift+p', inUse.vscodeDefaults.linux).join(), /workbench\.action\.showCommands/);
  assert.match(clashes('cmd+shift+alt+c', inUse.vscodeDefaults.macos).join(), /copyRelativeFilePath/);
  assert.match(clashes('ctrl+k', inUse.vscodeDefaults.windows).join(), /ctrl\+k ctrl\+/);
  assert.match(clashes('ctrl+alt+shift+t', inUse.extensions.linux).join(), /intellij-idea-keybindings/);
});

test('no contributed keybinding takes a key VS Code binds by default or a common extension contributes', () => {
  const bindings = manifest.contributes.keybindings;
  assert.ok(bindings.length > 0, 'package.json contributes keybindings');
  const problems: string[] = [];
  for (const binding of bindings) {
    for (const platform of PLATFORMS) {
      const key = keyFor(binding, platform);
      for (const [list, taken] of [
        ['VS Code default', inUse.vscodeDefaults[platform]],
        ['extension', inUse.extensions[platform]],
      ] as const) {
        for (const clash of clashes(key, taken)) problems.push(`${binding.command} ${key} on ${platform}: ${list} ${clash}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('contributed keybindings do not clash with each other where their contexts can overlap', () => {
  for (const platform of PLATFORMS) {
    const seen = new Map<string, string>();
    for (const binding of manifest.contributes.keybindings) {
      const key = normaliseKey(keyFor(binding, platform));
      assert.equal(seen.get(key), undefined, `${key} on ${platform} is bound twice (${binding.command})`);
      seen.set(key, binding.command);
    }
  }
});

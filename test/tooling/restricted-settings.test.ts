/**
 * Every setting that can name a path is restricted in untrusted workspaces (package.json
 * `capabilities.untrustedWorkspaces.restrictedConfigurations`): VS Code then ignores a workspace's value for it in
 * Restricted Mode, so an untrusted repository cannot widen what the backend reads (issue 8, bug 5). The e2e test
 * test/e2e/trust.test.ts shows the effect in code-server.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');

interface SettingSchema {
  type?: string | string[];
  enum?: unknown[];
  items?: SettingSchema;
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, SettingSchema> } };
  capabilities: { untrustedWorkspaces: { supported: boolean | 'limited'; restrictedConfigurations?: string[] } };
};
const settings = manifest.contributes.configuration.properties;
const restricted = new Set(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations ?? []);

/** Free text: a string (or a list of strings) without an enum. Any such value can be a path. */
function isFreeText(schema: SettingSchema): boolean {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('string') && !schema.enum) return true;
  return types.includes('array') && schema.items !== undefined && isFreeText(schema.items);
}

/**
 * The settings client/src/settings.ts reads as paths: a getter that reads `cxr.<name>` and resolves it with
 * `this.resolve` (relative to the workspace, `~` expanded).
 */
function settingsResolvedAsPaths(): string[] {
  const source = fs.readFileSync(path.join(ROOT, 'client', 'src', 'settings.ts'), 'utf8');
  const names: string[] = [];
  for (const getter of source.split(/\n\s+get /).slice(1)) {
    const body = getter.slice(0, getter.indexOf('\n  }'));
    const read = /config\.get<[^>]+>\('(\w+)'\)/.exec(body);
    if (read && /this\.resolve\(/.test(body)) names.push(`cxr.${read[1]}`);
  }
  return names;
}

test('every free-text setting (a possible path) is restricted in untrusted workspaces', () => {
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
  const freeText = Object.keys(settings).filter((name) => isFreeText(settings[name]));
  // The classification itself must see the known path settings, or the check below could pass on an empty list.
  for (const known of ['cxr.dataRoots', 'cxr.runsDirectory', 'cxr.modelsDirectory', 'cxr.activeModel']) {
    assert.ok(freeText.includes(known), `${known} is not seen as free text`);
  }
  const open = freeText.filter((name) => !restricted.has(name));
  assert.deepEqual(open, [], `free-text settings a workspace could set to a path in Restricted Mode: ${open.join(', ')}`);
});

test('every setting the client resolves as a path is restricted', () => {
  const paths = settingsResolvedAsPaths();
  assert.ok(paths.length >= 6, `found only ${paths.join(', ')} in client/src/settings.ts`);
  for (const name of paths) {
    assert.ok(name in settings, `${name} is read by the client but not declared in package.json`);
    assert.ok(restricted.has(name), `${name} is resolved as a path by the client but not restricted in untrusted workspaces`);
  }
});

test('every restricted setting is a declared setting', () => {
  for (const name of restricted) assert.ok(name in settings, `restrictedConfigurations names ${name}, which package.json does not declare`);
});

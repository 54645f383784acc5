import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../server/src/engine/locations';
import { BACKBONES } from '../../server/src/engine/models/registry';
import {
  BACKBONE_DESCRIPTIONS,
  BACKBONE_IDS,
  BROWSER_IMAGE_MIME,
  CAM_METHODS,
  ENGINE_BACKEND_SETTINGS,
  ORT_PROVIDER_PREFERENCES,
  IMAGE_EXTENSIONS,
  imageExtensionWhenPattern,
} from '../../server/src/engine/names';

interface Setting {
  type: string | string[];
  enum?: string[];
  enumDescriptions?: string[];
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8'));
const settings: Record<string, Setting> = manifest.contributes.configuration.properties;

describe('one list for each set of names (names.ts) and package.json', () => {
  it('the registry has a spec for every backbone id, and no other', () => {
    assert.deepEqual(Object.keys(BACKBONES), [...BACKBONE_IDS]);
    for (const id of BACKBONE_IDS) assert.equal(BACKBONES[id].id, id);
  });

  it('package.json setting enums are the lists', () => {
    assert.deepEqual(settings['cxr.defaultBackbone'].enum, [...BACKBONE_IDS]);
    assert.deepEqual(settings['cxr.defaultBackbone'].enumDescriptions, BACKBONE_IDS.map((id) => BACKBONE_DESCRIPTIONS[id].detail));
    assert.deepEqual(settings['cxr.engineBackend'].enum, [...ENGINE_BACKEND_SETTINGS]);
    assert.equal(settings['cxr.engineBackend'].enumDescriptions?.length, ENGINE_BACKEND_SETTINGS.length);
    assert.deepEqual(settings['cxr.onnxExecutionProvider'].enum, [...ORT_PROVIDER_PREFERENCES]);
    assert.equal(settings['cxr.onnxExecutionProvider'].enumDescriptions?.length, ORT_PROVIDER_PREFERENCES.length);
    assert.deepEqual(settings['cxr.camMethod'].enum, [...CAM_METHODS]);
  });

  it('every menu clause on image files matches exactly the decodable extensions', () => {
    const clauses: string[] = [];
    for (const entries of Object.values(manifest.contributes.menus) as { when?: string }[][]) {
      for (const e of entries) if (e.when?.includes('resourceExtname')) clauses.push(e.when);
    }
    assert.ok(clauses.length >= 6, `only ${clauses.length} image menu clauses`);
    for (const when of clauses) assert.ok(when.includes(`resourceExtname =~ ${imageExtensionWhenPattern()}`), when);
    const regex = new RegExp(imageExtensionWhenPattern().slice(1, -2), 'i');
    for (const ext of IMAGE_EXTENSIONS) assert.match(`x${ext.toUpperCase()}`, regex);
    assert.doesNotMatch('x.svg', regex);
  });

  it('every keybinding runs a contributed command, image keybindings use the image clause, and no key is bound twice', () => {
    const commands = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
    const bindings: { command: string; key: string; when?: string }[] = manifest.contributes.keybindings;
    assert.ok(bindings.length >= 5);
    for (const b of bindings) assert.ok(commands.has(b.command), b.command);
    assert.equal(new Set(bindings.map((b) => b.key)).size, bindings.length);
    for (const b of bindings.filter((b) => b.when?.includes('resourceExtname'))) {
      assert.ok(b.when!.includes(`resourceExtname =~ ${imageExtensionWhenPattern()}`), b.when);
    }
  });

  it('the heatmap editor opens every decodable extension, and browser-shown formats are among them', () => {
    const patterns = manifest.contributes.customEditors[0].selector.map((s: { filenamePattern: string }) => s.filenamePattern);
    assert.deepEqual(patterns, IMAGE_EXTENSIONS.map((e) => `*${e}`));
    for (const ext of Object.keys(BROWSER_IMAGE_MIME)) assert.ok((IMAGE_EXTENSIONS as readonly string[]).includes(ext), ext);
  });

  it('every free-form string setting (a path the backend may read) is restricted in untrusted workspaces', () => {
    const freeForm = Object.entries(settings)
      .filter(([, s]) => !s.enum && (s.type === 'string' || s.type === 'array'))
      .map(([name]) => name)
      .sort();
    assert.ok(freeForm.includes('cxr.dataRoots') && freeForm.includes('cxr.activeModel'));
    assert.deepEqual([...manifest.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(), freeForm);
  });
});

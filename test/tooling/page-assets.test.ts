/**
 * Webview pages carry their script and stylesheet inline under the page's nonce (client/src/pageAssets.ts): every
 * built bundle and the stylesheet can be, and text that would close or escape the inline element is linked instead.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { inlinable, inlineAsset } from '../../client/src/pageAssets';
import { repoRoot } from '../../server/src/engine/locations';

test('every built webview bundle and the stylesheet go into their pages inline', (t) => {
  const bundles = path.join(repoRoot(), 'dist', 'webview');
  if (!fs.existsSync(bundles)) return t.skip('dist/ is not built (npm run build)');
  const scripts = fs.readdirSync(bundles).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.includes('heatmap.js'), scripts.join(', '));
  for (const f of scripts) assert.ok(inlineAsset(path.join(bundles, f), 'script'), `${f} would be linked, not inlined`);
  assert.ok(inlineAsset(path.join(repoRoot(), 'media', 'webview.css'), 'style'));
});

test('text that would end or escape an inline element is linked instead, and a changed file is read again', () => {
  assert.equal(inlinable('const a = "</script>";', 'script'), false);
  assert.equal(inlinable('const a = "</SCRIPT ";', 'script'), false);
  assert.equal(inlinable('const a = "<!-- x";', 'script'), false);
  assert.equal(inlinable('a { content: "</style>" }', 'style'), false);
  assert.equal(inlinable('if (a </ b) {}', 'script'), true);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-page-assets-'));
  try {
    const file = path.join(dir, 'page.js');
    fs.writeFileSync(file, 'console.log(1);');
    assert.equal(inlineAsset(file, 'script'), 'console.log(1);');
    fs.writeFileSync(file, 'document.write("</script>") ;');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.equal(inlineAsset(file, 'script'), null, 'the new text is read, and refused');
    assert.equal(inlineAsset(path.join(dir, 'missing.js'), 'script'), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

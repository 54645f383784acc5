import * as fs from 'node:fs';

/**
 * The text of a webview's script or stylesheet, to be written into its page (a nonce'd <script> or <style>) instead
 * of being fetched: in code-server a webview fetched each file through its service worker and the workbench, and a
 * second heatmap viewer's script started about 1.1 s after its frame (CI e2e runs), against 0.25 s for the first.
 * Null when the file cannot be read, or holds text that would end or confuse an inline element ("</script",
 * "</style", "<!--"): the page then links the file as before. Read once per file and version (size, mtime).
 */
export function inlineAsset(file: string, kind: 'script' | 'style'): string | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return null;
  }
  const version = `${stat.size}:${stat.mtimeMs}`;
  const known = cache.get(file);
  if (known && known.version === version && known.kind === kind) return known.text;
  let text: string | null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  if (!inlinable(text, kind)) text = null;
  cache.set(file, { version, kind, text });
  return text;
}

/** Whether `text` can sit inside a <script> or <style> element unchanged: nothing in it closes or escapes the element. */
export function inlinable(text: string, kind: 'script' | 'style'): boolean {
  const lower = text.toLowerCase();
  return !lower.includes(`</${kind}`) && !lower.includes('<!--');
}

const cache = new Map<string, { version: string; kind: 'script' | 'style'; text: string | null }>();

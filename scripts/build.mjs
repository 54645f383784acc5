// Bundles the extension with esbuild into dist/:
//   dist/client.js       extension host entry (client/src/extension.ts)
//   dist/server.js       backend process (server/src/lsp/main.ts)
//   dist/trainWorker.js  training worker_thread (server/src/lsp/trainWorker.ts)
//   dist/decodeWorker.js image decoding worker_thread of the decode pool (server/src/engine/data/decodeWorker.ts)
//   dist/cli.js          command line tool's launcher (server/src/cli/launcher.ts), used by bin/cxr.js in a package
//   dist/cliMain.js      command line tool (server/src/cli/main.ts), started by the launcher
//   dist/webview/*.js    webview scripts listed in webview/entries.json (browser, IIFE)
//   dist/wasm/*.wasm     the TensorFlow.js wasm binaries (the backend selector looks for wasm/ next to the bundle)
//
// Usage: node scripts/build.mjs [--strict] [--minify]
//   --strict  every entry must exist (used by `npm run package`); otherwise a missing entry is skipped with a warning
//             so the build works while parts of the extension are still being written.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const args = new Set(process.argv.slice(2));
const strict = args.has('--strict');
const minify = args.has('--minify');

// Not bundled:
// - vscode: provided by the extension host.
// - sharp: native; ships as node_modules/sharp (+ @img/*) in the .vsix.
// - h5wasm: its node build embeds 4 MB of wasm; shipped once in node_modules instead of inside each of the three
//   engine bundles (it is ESM-only and loaded with a dynamic import, which CommonJS bundles keep as is).
// - tfjs-node: optional, installed by users themselves and looked up at run time.
// - webgpu: Dawn's native binaries (ESM, loaded with a dynamic import only when the webgpu backend is asked for);
//   ships as node_modules/webgpu in the .vsix.
// - tsx/cjs: only resolved when the server runs from TypeScript sources, never in a bundle.
// - onnxruntime-node: native and optional; where it cannot be loaded the engine runs everything on tfjs.
const NODE_EXTERNALS = ['vscode', 'sharp', 'h5wasm', 'onnxruntime-node', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'tsx/cjs'];

const NODE_ENTRIES = [
  { out: 'client', src: 'client/src/extension.ts' },
  { out: 'server', src: 'server/src/lsp/main.ts' },
  { out: 'trainWorker', src: 'server/src/lsp/trainWorker.ts' },
  { out: 'decodeWorker', src: 'server/src/engine/data/decodeWorker.ts' },
  { out: 'cli', src: 'server/src/cli/launcher.ts' },
  { out: 'cliMain', src: 'server/src/cli/main.ts' },
];

const WASM_SOURCE_DIR = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';

function exists(rel) {
  return fs.existsSync(path.join(root, rel));
}

const missing = [];
function present(entries) {
  return entries.filter((e) => {
    if (exists(e.src)) return true;
    missing.push(e.src);
    return false;
  });
}

function readWebviewEntries() {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'webview/entries.json'), 'utf8'));
  const outdir = manifest.outdir ?? 'dist/webview';
  return { outdir, entries: Object.entries(manifest.entryPoints).map(([out, src]) => ({ out, src })) };
}

async function buildNode(entries) {
  if (entries.length === 0) return null;
  return esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map((e) => [e.out, e.src])),
    outdir: dist,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    minify,
    external: NODE_EXTERNALS,
    // ESM dependencies may read import.meta.url (h5wasm's node build does, should it ever be bundled); in a CommonJS
    // bundle import.meta is empty, so give them this file's URL.
    define: { 'import.meta.url': '__cxrImportMetaUrl' },
    banner: { js: "var __cxrImportMetaUrl = require('url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
    metafile: true,
  });
}

async function buildWebviews(outdir, entries) {
  if (entries.length === 0) return null;
  return esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map((e) => [e.out, e.src])),
    outdir: path.join(root, outdir),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    minify,
    logLevel: 'warning',
    metafile: true,
  });
}

function copyWasm() {
  const from = path.join(root, WASM_SOURCE_DIR);
  const to = path.join(dist, 'wasm');
  fs.mkdirSync(to, { recursive: true });
  const files = fs.readdirSync(from).filter((f) => f.endsWith('.wasm'));
  if (files.length === 0) throw new Error(`No .wasm files in ${from}: is @tensorflow/tfjs-backend-wasm installed?`);
  for (const f of files) fs.copyFileSync(path.join(from, f), path.join(to, f));
  return files.map((f) => `dist/wasm/${f}`);
}

function outputSizes(result) {
  if (!result) return [];
  return Object.entries(result.metafile.outputs)
    .filter(([file]) => !file.endsWith('.map'))
    .map(([file, info]) => `${file} ${(info.bytes / 1024).toFixed(0)} KiB`);
}

const started = Date.now();
const webview = readWebviewEntries();
const nodeEntries = present(NODE_ENTRIES);
const webviewEntries = present(webview.entries);

if (missing.length > 0) {
  const list = missing.map((m) => `  ${m}`).join('\n');
  if (strict) {
    console.error(`build: entry sources missing (--strict):\n${list}`);
    process.exit(1);
  }
  console.warn(`build: skipping entries whose source does not exist yet:\n${list}`);
}

fs.mkdirSync(dist, { recursive: true });
const [nodeResult, webviewResult] = await Promise.all([buildNode(nodeEntries), buildWebviews(webview.outdir, webviewEntries)]);
const wasmFiles = copyWasm();

for (const line of [...outputSizes(nodeResult), ...outputSizes(webviewResult), ...wasmFiles]) console.log(`  ${line}`);
console.log(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s${missing.length ? ` (${missing.length} entries skipped)` : ''}`);

/**
 * The packaged .vsix is lean and self-contained: unpacked into a temp folder, far from this repository's
 * node_modules, its bundles find every module they load outside themselves inside the package, sharp and h5wasm
 * work from there, and the packaged CLI runs the engine (wasm backend from the package's own dist/wasm).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MOBILENET_DIR, MOBILENET_SAMPLES, requireShared, tmpDir } from '../helpers/shared';
import { REPO_ROOT, vsixPath } from './harness';

const NODE_BUNDLES = ['client', 'server', 'trainWorker', 'cli'].map((b) => `dist/${b}.js`);
// vscode: provided by the host; tfjs-node: optional, installed by users; encoding: node-fetch's optional charset
// helper (tfjs-core's fetch), required inside a try/catch.
const NOT_SHIPPED = new Set(['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'encoding']);
const BUILTINS = new Set(builtinModules);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Bare module names a bundle loads at run time: require("x") and import("x") that esbuild left in place. */
function externalSpecifiers(bundle: string): { required: string[]; imported: string[] } {
  const text = fs.readFileSync(bundle, 'utf8');
  const keep = (s: string): boolean => !s.startsWith('node:') && !BUILTINS.has(packageName(s)) && !NOT_SHIPPED.has(packageName(s));
  const pick = (re: RegExp): string[] => [...new Set([...text.matchAll(re)].map((m) => m[1]))].filter(keep);
  return {
    required: pick(/\brequire\(["']([^"'./][^"']*)["']\)/g),
    imported: pick(/\bimport\(["']([^"'./][^"']*)["']\)/g),
  };
}

function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Runs node with cwd `/` so that no module resolves through this repository. */
function nodeOutsideRepo(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, args, { cwd: '/', encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NODE_PATH: '', ...env } });
}

describe('packaged .vsix', { timeout: 180_000 }, () => {
  let unpacked: string;
  let ext: string;
  let files: string[];

  before(() => {
    const vsix = vsixPath();
    assert.ok(fs.existsSync(vsix), `${vsix} missing: run \`npm run package\``);
    unpacked = tmpDir('vsix');
    execFileSync('unzip', ['-q', vsix, '-d', unpacked]);
    ext = path.join(unpacked, 'extension');
    files = listFiles(ext);
  });

  after(() => {
    if (unpacked) fs.rmSync(unpacked, { recursive: true, force: true });
  });

  it('holds the bundles, webview scripts and wasm binaries', () => {
    const webviews = Object.keys(
      (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'webview', 'entries.json'), 'utf8')) as { entryPoints: Record<string, string> }).entryPoints,
    ).map((w) => `dist/webview/${w}.js`);
    for (const f of [...NODE_BUNDLES, ...webviews, 'dist/wasm/tfjs-backend-wasm.wasm', 'dist/wasm/tfjs-backend-wasm-simd.wasm', 'package.json']) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(ext, 'package.json'), 'utf8')) as { main?: string };
    assert.equal(manifest.main && path.normalize(manifest.main), path.normalize('./dist/client.js'));
  });

  it('leaves out sources, tests, source maps and every node module the bundles do not load', () => {
    const allowedModules = /^node_modules\/(sharp|@img\/[^/]+|detect-libc|semver|h5wasm|webgpu|onnxruntime-node|onnxruntime-common)\//;
    const offending = files.filter(
      (f) =>
        (/\.(ts|map)$/.test(f) && !f.endsWith('.d.ts')) ||
        /^(client|server|common|webview|test|scripts|bin|out)\//.test(f) ||
        (f.startsWith('node_modules/') && !allowedModules.test(f)),
    );
    assert.deepEqual(offending, []);
  });

  it('resolves every module the node bundles load at run time inside the package', () => {
    const problems: string[] = [];
    for (const b of NODE_BUNDLES) {
      const bundle = path.join(ext, b);
      const { required, imported } = externalSpecifiers(bundle);
      const req = createRequire(bundle);
      for (const name of required) {
        try {
          const resolved = req.resolve(name);
          if (!resolved.startsWith(ext + path.sep)) problems.push(`${b}: require('${name}') -> ${resolved}, outside the package`);
        } catch {
          problems.push(`${b}: require('${name}') does not resolve`);
        }
      }
      for (const name of imported) {
        // ESM resolution (export conditions differ from require's): ask a module placed beside the bundle.
        const probe = path.join(path.dirname(bundle), `__resolve-probe.mjs`);
        fs.writeFileSync(probe, `process.stdout.write(import.meta.resolve(${JSON.stringify(name)}));`);
        try {
          const url = nodeOutsideRepo([probe]);
          if (!url.startsWith(`file://${ext}/`)) problems.push(`${b}: import('${name}') -> ${url}, outside the package`);
        } catch (e) {
          problems.push(`${b}: import('${name}') does not resolve: ${(e as Error).message.split('\n')[0]}`);
        } finally {
          fs.rmSync(probe);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('runs sharp from the package', () => {
    const script = `
      const sharp = require('module').createRequire(${JSON.stringify(path.join(ext, 'dist/server.js'))})('sharp');
      sharp({ create: { width: 3, height: 2, channels: 3, background: '#808080' } }).png().toBuffer()
        .then((png) => sharp(png).metadata())
        .then((m) => console.log(JSON.stringify({ format: m.format, width: m.width, height: m.height, vips: sharp.versions.vips })));`;
    const out = JSON.parse(nodeOutsideRepo(['-e', script])) as { format: string; width: number; height: number; vips: string };
    assert.deepEqual({ format: out.format, width: out.width, height: out.height }, { format: 'png', width: 3, height: 2 });
  });

  it('runs h5wasm from the package (write and read back an HDF5 file)', () => {
    const probe = path.join(ext, 'dist', '__h5-probe.mjs');
    fs.writeFileSync(
      probe,
      `const h5 = await import('h5wasm/node'); await h5.ready;
       const f = new h5.File('probe.h5', 'w'); f.create_dataset({ name: 'x', data: new Float32Array([1.5, 2.5]) }); f.close();
       const r = new h5.File('probe.h5', 'r'); console.log(JSON.stringify(Array.from(r.get('x').value))); r.close();`,
    );
    try {
      assert.deepEqual(JSON.parse(nodeOutsideRepo([probe])), [1.5, 2.5]);
    } finally {
      fs.rmSync(probe);
    }
  });

  it('runs the packaged CLI on the wasm backend from its own dist/wasm', () => {
    // This test needs wasm: asked for explicitly, so a machine with tfjs-node (or CXR_BACKEND set) still checks the package's wasm files.
    const report = JSON.parse(nodeOutsideRepo([path.join(ext, 'dist/cli.js'), 'doctor', '--json'], 60_000, { CXR_BACKEND: 'wasm' })) as { name: string; reason: string };
    assert.equal(report.name, 'wasm');
    assert.ok(report.reason.includes(path.join(ext, 'dist', 'wasm')), report.reason);
  });

  it('runs passes without gradients on ONNX Runtime loaded from the package', () => {
    const report = JSON.parse(nodeOutsideRepo([path.join(ext, 'dist/cli.js'), 'doctor', '--json'], 60_000, { CXR_BACKEND: 'wasm' })) as {
      gradientFree?: { engine: string; reason?: string };
    };
    assert.equal(report.gradientFree?.engine, 'onnxruntime', JSON.stringify(report.gradientFree));
    const binaries = files.filter((f) => f.startsWith('node_modules/onnxruntime-node/bin/'));
    assert.ok(binaries.length > 0 && binaries.every((f) => f.includes(`/${process.platform}/${process.arch}/`)), binaries.join(', '));
  });

  it('classifies a sample image with the packaged CLI (sharp decode + tfjs inference)', () => {
    const weights = requireShared(path.join(MOBILENET_DIR, 'mobilenet_v2_1.0_224', 'weights_manifest.json'));
    const labels = requireShared(path.join(MOBILENET_SAMPLES, 'imagenet_labels.txt'));
    const expected = JSON.parse(fs.readFileSync(requireShared(path.join(MOBILENET_SAMPLES, 'expected_top5.json')), 'utf8')) as {
      images: Record<string, Record<string, { label: string }[]>>;
    };
    // The reference top-1 under each preprocessing variant (crop / squash) it lists.
    const acceptable = new Set(Object.values(expected.images['cat.jpg']).map((top5) => top5[0].label));
    const out = nodeOutsideRepo(
      [path.join(ext, 'dist/cli.js'), 'predict', '--backbone', 'mobilenet_v2', '--weights', weights, '--labels', labels, path.join(MOBILENET_SAMPLES, 'cat.jpg'), '--top', '1', '--json'],
      120_000,
    );
    const predictions = JSON.parse(out) as { label: string }[];
    assert.equal(predictions.length, 1);
    assert.ok(acceptable.has(predictions[0].label), `packaged CLI predicted ${predictions[0].label}; reference top-1: ${[...acceptable].join(' / ')}`);
  });
});

#!/usr/bin/env node
// Packaging step: copies the default backbone's ImageNet weights (MobileNetV2 1.0/224 without its top, TF.js format)
// with their licence and provenance from <shared>/models into dist/models, which the .vsix ships. A fresh install then
// trains from ImageNet weights with no setting touched (the engine searches dist/models last: locations.ts).
// Nothing is copied into the repository's tracked files: dist/ is a build output.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const shared = process.env.CXR_SHARED_DIR ? path.resolve(process.env.CXR_SHARED_DIR) : path.resolve(root, '..', 'shared');
const from = path.join(shared, 'models', 'mobilenet_v2_imagenet');
const to = path.join(root, 'dist', 'models', 'mobilenet_v2_imagenet');
const WEIGHTS = 'mobilenet_v2_1.0_224_no_top';
const NOTICES = ['PROVENANCE.md', 'LICENSE.coral-test_data.txt'];

const manifestFile = path.join(from, WEIGHTS, 'weights_manifest.json');
if (!fs.existsSync(manifestFile)) {
  console.error(`bundle-weights: ${manifestFile} not found. Set CXR_SHARED_DIR to the folder holding models/.`);
  process.exit(1);
}
const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
const shards = manifest.flatMap((group) => group.paths);
for (const file of [...shards.map((s) => path.join(WEIGHTS, s)), ...NOTICES]) {
  if (!fs.existsSync(path.join(from, file))) {
    console.error(`bundle-weights: ${path.join(from, file)} is missing; the weights would ship without it.`);
    process.exit(1);
  }
}
fs.rmSync(to, { recursive: true, force: true });
fs.mkdirSync(path.join(to, WEIGHTS), { recursive: true });
for (const file of ['weights_manifest.json', ...shards]) fs.copyFileSync(path.join(from, WEIGHTS, file), path.join(to, WEIGHTS, file));
for (const file of NOTICES) fs.copyFileSync(path.join(from, file), path.join(to, file));
const bytes = shards.reduce((n, s) => n + fs.statSync(path.join(to, WEIGHTS, s)).size, 0);
console.log(`bundle-weights: ${WEIGHTS} (${shards.length} shard(s), ${(bytes / 1048576).toFixed(1)} MiB) with ${NOTICES.join(', ')} -> dist/models`);

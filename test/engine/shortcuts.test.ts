/**
 * Shortcut audits of a trained run: masked accuracy, heatmap energy in a region, weight randomisation. The model is
 * the known-evidence run (helpers/knownEvidence.ts) with its target bias set so that the class is predicted only
 * when the checkerboard patch is visible: its evidence is known, so each audit's answer is known.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { maskRegion, scaleRegion, shareInRegion, areaShare, LUNG_FIELD, type Region } from '../../server/src/engine/audit/shortcutRegions';
import { spearman, pearson } from '../../server/src/engine/audit/rankCorrelation';
import { shortcutAudit } from '../../server/src/engine/audit/shortcutAudit';
import { decodeImage } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { loadRunModel } from '../../server/src/engine/inference/runModel';
import { RunSession } from '../../server/src/engine/inference/runSession';
import { HEAD_DENSE_LAYER } from '../../server/src/engine/models/classifier';
import { saveModel } from '../../server/src/engine/train/runFolder';
import { buildEvidenceRun, EVIDENCE_IMAGE_SIZE, EVIDENCE_PATCH, EVIDENCE_TARGET, growBox, writeEvidenceImage } from '../helpers/knownEvidence';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const engine = new Engine();
const toRegion = (b: { top: number; left: number; bottom: number; right: number }): Region =>
  ({ top: b.top / EVIDENCE_IMAGE_SIZE, left: b.left / EVIDENCE_IMAGE_SIZE, bottom: b.bottom / EVIDENCE_IMAGE_SIZE, right: b.right / EVIDENCE_IMAGE_SIZE });
/** The patch with one feature cell (64 px) around it: MobileNetV2's receptive fields spread the evidence that far. */
const PATCH_REGION = toRegion(growBox(EVIDENCE_PATCH, 32));
/** The mirror image of PATCH_REGION, top-left, where the image is flat grey. */
const MIRROR_REGION: Region = { ...PATCH_REGION, left: 1 - PATCH_REGION.right, right: 1 - PATCH_REGION.left };

it('masking: an empty region leaves the image as it is; a region is filled with the image mean and nothing else changes', () => {
  const size = 20;
  const image = Float32Array.from({ length: size * size * 3 }, (_, i) => (i * 7919) % 101 / 100);
  assert.deepEqual(maskRegion(image, size, scaleRegion(LUNG_FIELD, 0)), image);
  const masked = maskRegion(image, size, LUNG_FIELD);
  const mean = image.filter((_, i) => i % 3 === 0).reduce((a, b) => a + b, 0) / (size * size);
  let changed = 0;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const o = (y * size + x) * 3;
    const inside = (y + 0.5) / size >= 0.15 && (y + 0.5) / size < 0.85 && (x + 0.5) / size >= 0.1 && (x + 0.5) / size < 0.9;
    if (inside) { assert.ok(Math.abs(masked[o] - mean) < 1e-6); changed++; } else assert.equal(masked[o], image[o]);
  }
  assert.equal(changed, 14 * 16);
  const flat = new Float32Array(100 * 100).fill(1);
  assert.ok(Math.abs(shareInRegion(flat, 100, LUNG_FIELD) - areaShare(LUNG_FIELD)) < 1e-9);
  const a = [3, 1, 4, 1, 5, 9, 2, 6];
  assert.ok(Math.abs(spearman(a, a.map((v) => v ** 3)) - 1) < 1e-12, 'monotone => rank correlation 1');
  assert.ok(Math.abs(spearman(a, a.map((v) => -v)) + 1) < 1e-12);
  assert.ok(pearson(a, a.map((v) => v ** 3)) < 0.99, 'Pearson is not rank-based');
});

describe('shortcut audits of a run whose evidence is known', () => {
  let run: string;
  let image: string;
  let session: RunSession;
  let target: number;

  before(async () => {
    const dir = scratch('shortcuts');
    run = path.join(dir, 'run');
    image = path.join(dir, 'evidence.png');
    await writeEvidenceImage(image);
    await buildEvidenceRun(run, image, engine);
    // Set the target's bias halfway between its score with and without the patch: the class then needs the patch.
    const loaded = await loadRunModel(run);
    target = loaded.config.classes.indexOf(EVIDENCE_TARGET);
    const probe = await RunSession.open(loaded);
    const score = async (img: Float32Array) => {
      const m = (await probe.featureMaps(img))!;
      let s = 0;
      for (let i = 0; i < m.features.length; i++) s += m.features[i] * m.kernel[(i % m.channels) * m.classes + target];
      return s / (m.height * m.width);
    };
    const decoded = (await decodeImage(image, loaded.config.imageSize)).data;
    const withPatch = await score(decoded);
    const without = await score(maskRegion(decoded, loaded.config.imageSize, PATCH_REGION));
    assert.ok(withPatch > without, `${withPatch} > ${without}`);
    probe.dispose();
    const dense = loaded.model.getLayer(HEAD_DENSE_LAYER);
    const [kernel, bias] = dense.getWeights();
    const b = bias.arraySync() as number[];
    b[target] = -(withPatch + without) / 2;
    const tf = await import('@tensorflow/tfjs-core');
    dense.setWeights([kernel, tf.tensor1d(b)]);
    await saveModel(path.join(run, 'model'), loaded.model);
    session = await RunSession.open(await loadRunModel(run));
  });

  it('hiding the evidence region costs all the accuracy, hiding nothing costs none; the maps put their energy on the evidence', async () => {
    const files = [image];
    const hidden = await shortcutAudit(session, files, [target], { run, data: 'synthetic', split: 'test', lungField: PATCH_REGION });
    const byName = Object.fromEntries(hidden.checks.map((c) => [c.name, c]));
    assert.equal(byName['lungs-masked'].details.plainAccuracy, 1, 'the full image is classified right');
    assert.equal(byName['lungs-masked'].value, 0, 'without the patch the class is lost');
    assert.match(byName['lungs-masked'].sentence, /not above chance/);
    const energy = byName['lung-field-energy'].value!;
    assert.ok(energy > 0.6 && energy > 3 * areaShare(PATCH_REGION), `energy in the patch region ${energy}, area ${areaShare(PATCH_REGION)}`);

    const nothingHidden = await shortcutAudit(session, files, [target], { run, data: 'synthetic', split: 'test', lungField: PATCH_REGION, regionScale: 0 });
    assert.equal(nothingHidden.checks[0].value, 1, 'an empty mask gives the plain accuracy');
    assert.equal(nothingHidden.checks[1].value, 1);

    const mirror = await shortcutAudit(session, files, [target], { run, data: 'synthetic', split: 'test', lungField: MIRROR_REGION });
    assert.equal(mirror.checks[0].value, 1, 'hiding an empty corner changes nothing');
    assert.ok(mirror.checks[2].value! < areaShare(MIRROR_REGION), `energy in the empty corner ${mirror.checks[2].value}`);
  });

  it('weight randomisation: a head that is the trained one (scaled, or negated) is flagged high; random heads give |rho| < 1', async () => {
    const m = (await session.featureMaps((await decodeImage(image, session.loaded.config.imageSize)).data))!;
    const same = await shortcutAudit(session, [image], [target], { run, data: 'synthetic', split: 'test', randomKernels: [m.kernel.map((v) => 2 * v), m.kernel.map((v) => -0.5 * v)] });
    const flagged = same.checks.find((c) => c.name === 'weight-randomisation')!;
    assert.ok(Math.abs(flagged.value! - 1) < 1e-9, `median |Spearman| ${flagged.value}`);
    assert.equal(flagged.details.spearmanMin, -1);
    assert.match(flagged.sentence, /high, so the maps mostly show what the frozen backbone sees/);

    const random = await shortcutAudit(session, [image], [target], { run, data: 'synthetic', split: 'test', seed: 7 });
    const check = random.checks.find((c) => c.name === 'weight-randomisation')!;
    assert.equal(check.details.pairs, 3, 'three random heads');
    assert.ok(check.value! < 0.9, `median |Spearman| ${check.value}`);
  });

  it('engine and CLI: `cxr shortcuts` on ci-tiny writes shortcuts.json through the run store and the model card shows it', async () => {
    const res = spawnSync(process.execPath, [BIN, 'shortcuts', run, requireShared(CI_TINY), '--json'], { encoding: 'utf8', env: process.env });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.n, 6);
    assert.deepEqual(out.checks.map((c: { name: string }) => c.name), ['lungs-masked', 'border-only', 'lung-field-energy', 'weight-randomisation']);
    for (const c of out.checks) assert.ok(typeof c.value === 'number' && c.sentence.length > 40, JSON.stringify(c));
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'shortcuts.json'), 'utf8')), out);
    const card = fs.readFileSync(path.join(run, 'MODEL_CARD.md'), 'utf8');
    for (const c of out.checks) assert.ok(card.includes(c.sentence), `card shows ${c.name}`);
    assert.doesNotMatch(card, /Not run yet, so nothing here shows/);
    assert.match(card, /On the test split of `[^`]+` \(6 images; `cxr shortcuts`\)/);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { applyTemperature, fitTemperature } from '../../server/src/engine/calibration/temperature';
import { reliability } from '../../server/src/engine/calibration/reliability';
import { decodeImage } from '../../server/src/engine/data/decode';
import { Engine } from '../../server/src/engine/engine';
import { dataDir } from '../../server/src/engine/locations';
import { checkChestRadiograph } from '../../server/src/engine/ood/chestCheck';
import { CI_TINY, DICOM_SAMPLES, MOBILENET_NOTOP_MANIFEST, MOBILENET_SAMPLES, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';

const scratch = scratchDirFactory();
const BIN = path.join(__dirname, '..', '..', 'bin', 'cxr.js');
const ABDOMEN = path.join(DICOM_SAMPLES, 'nhsx-nccid', 'sample.dcm');
const PHOTOS = ['cat.jpg', 'hot_dog.jpg', 'grace_hopper.jpg'].map((f) => path.join(MOBILENET_SAMPLES, f));

test('no X-ray in ../shared is called "not a chest radiograph"; every photo, the abdominal DICOM and a 1x1 PNG are', async () => {
  const all = (fs.readdirSync(requireShared(dataDir()), { recursive: true }) as string[])
    .filter((f) => /\.(png|jpe?g|dcm)$/i.test(f))
    .map((f) => path.join(dataDir(), f));
  const xrays = all.filter((f) => f !== ABDOMEN);
  assert.ok(xrays.length >= 370, `${xrays.length} X-rays`);
  for (const f of xrays) assert.equal(checkChestRadiograph(await decodeImage(f, 64)).reason, null, f);

  const dot = path.join(scratch('ood'), 'dot.png');
  await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(dot);
  for (const f of [...PHOTOS, requireShared(ABDOMEN), dot]) {
    assert.match(checkChestRadiograph(await decodeImage(f, 64)).reason ?? 'not flagged', /^Not a chest radiograph: /, f);
  }
  assert.match(checkChestRadiograph(await decodeImage(ABDOMEN, 64)).reason!, /Modality is OT/);
});

test('temperature scaling softens over-confidence on held-out predictions; ECE measures the gap', () => {
  // Predictions 99% sure but right only 70% of the time: the fitted temperature must exceed 1 and cut ECE.
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < 100; i++) {
    probs.push([0.99, 0.005, 0.005]);
    labels.push(i % 10 < 7 ? 0 : 1 + (i % 2));
  }
  const before = reliability(probs, labels);
  assert.ok(Math.abs(before.ece - 0.29) < 1e-9, `ECE ${before.ece}`);
  const t = fitTemperature(probs, labels);
  assert.ok(t > 1, `T = ${t}`);
  const after = reliability(probs.map((p) => applyTemperature(p, t)), labels);
  assert.ok(after.ece < 0.02, `ECE after ${after.ece}`);
  assert.ok(after.nll < before.nll);
  assert.equal(applyTemperature([0.2, 0.5, 0.3], 3).indexOf(Math.max(...applyTemperature([0.2, 0.5, 0.3], 3))), 1, 'argmax kept');
});

const engine = new Engine();
let trained: Promise<string> | undefined;
/** One small run on ci-tiny shared by the tests below. */
function trainedRun(): Promise<string> {
  trained ??= (async () => {
    const out = path.join(scratch('ood-run'), 'run');
    await engine.train({ data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 3, seed: 1 });
    return out;
  })();
  return trained;
}

test('a trained run refuses photos and the abdominal DICOM, abstains below the threshold, and the user can override', async () => {
  const out = await trainedRun();
  for (const f of ['ood.json', 'ood-train-features.bin', 'calibration.json', 'audit.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const calibration = JSON.parse(fs.readFileSync(path.join(out, 'calibration.json'), 'utf8'));
  assert.ok(calibration.temperature > 0 && calibration.valAfter.n === 3);

  const xray = path.join(CI_TINY, 'test', 'Normal', '0101.jpeg');
  const [cat, abdomen, film] = await engine.predict({ run: out, files: [PHOTOS[0], ABDOMEN, xray] });
  for (const p of [cat, abdomen]) {
    assert.equal(p.status, 'refused');
    assert.ok(p.ood?.flagged && p.ood.notChestRadiograph, JSON.stringify(p.ood));
    assert.match(p.ood.reason!, /^Not a chest radiograph/);
  }
  assert.equal(film.ood?.notChestRadiograph, false);
  assert.equal(typeof film.ood?.featureDistance, 'number');
  assert.notEqual(film.status, 'refused', JSON.stringify(film.ood));

  const overridden = await engine.predict({ run: out, files: [PHOTOS[0]], ignoreOod: true });
  assert.notEqual(overridden[0].status, 'refused');
  assert.equal(overridden[0].ood?.flagged, true, 'the flag is still reported');
  const strict = await engine.predict({ run: out, files: [xray], abstainBelow: 1 });
  assert.equal(strict[0].status, 'uncertain');
  await rejectsWithCxrError(engine.predict({ run: out, files: [xray], abstainBelow: 1.5 }), 'INVALID_ARGUMENT', /abstain threshold/);

  const cli = spawnSync(process.execPath, [BIN, 'predict', out, PHOTOS[1], xray, '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(cli.status, 0, cli.stderr);
  const items = JSON.parse(cli.stdout);
  assert.deepEqual(Object.keys(items[0].ood).slice(0, 3), ['flagged', 'reason', 'score']);
  assert.equal(items[0].ood.flagged, true);
  assert.equal(typeof items[0].ood.score, 'number');
  const human = spawnSync(process.execPath, [BIN, 'predict', out, PHOTOS[1]], { encoding: 'utf8', timeout: 120_000 });
  assert.match(human.stdout, /hot_dog\.jpg: REFUSED - Not a chest radiograph: it is a colour image/);
});

test('evaluation: metrics without test images that have a copy in train, bootstrap intervals, calibration, label map, patient level', async () => {
  const out = await trainedRun();
  // ci-tiny with a training image copied into test/: evaluate on that copy of the data as the run's own data.
  const dir = scratch('eval-trust');
  const data = path.join(dir, 'data');
  fs.cpSync(CI_TINY, data, { recursive: true });
  fs.copyFileSync(path.join(data, 'train', 'Normal', '011.jpeg'), path.join(data, 'test', 'Normal', 'leaked.jpeg'));
  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  const run = path.join(dir, 'run');
  fs.cpSync(out, run, { recursive: true });
  fs.rmSync(path.join(run, 'audit.json'));
  fs.writeFileSync(path.join(run, 'config.json'), JSON.stringify({ ...config, data }));

  const r = await engine.evaluate({ run, data, split: 'test' });
  assert.equal(r.n, 7);
  assert.deepEqual(r.withoutTrainDuplicates?.excluded, [path.join(data, 'test', 'Normal', 'leaked.jpeg')]);
  assert.equal(r.withoutTrainDuplicates?.metrics?.n, 6);
  assert.ok(r.caveats.some((c) => /^1 of these 7 images have an exact or near-duplicate in the training split; without them accuracy is/.test(c)), r.caveats.join('\n'));
  assert.ok(r.bootstrap && r.bootstrap.macroF1.low <= r.macro_avg.f1 && r.macro_avg.f1 <= r.bootstrap.macroF1.high, JSON.stringify(r.bootstrap));
  assert.ok(r.bootstrap.macroF1.high - r.bootstrap.macroF1.low > 0, 'seven images leave a real interval');
  assert.equal(r.calibration?.raw.n, 7);
  assert.ok(r.calibration?.temperature && r.calibration.calibrated);
  const md = fs.readFileSync(r.files.markdown, 'utf8');
  assert.match(md, /## With and without test images that have a copy in train/);
  assert.match(md, /\| without near-duplicates of training images \| 6 \|/);
  assert.match(md, /## Calibration/);

  // External-validation style: classes merged by a label map, patient IDs from a CSV.
  const csv = path.join(dir, 'external.csv');
  const rows = ['path,label,split,patient_id'];
  for (const [file, label, patient] of [['Covid/0102.jpeg', 'Covid', 'a'], ['Covid/0105.png', 'Covid', 'a'], ['Normal/0101.jpeg', 'Normal', 'b'], ['Normal/0102.jpeg', 'Normal', 'c'], ['Viral Pneumonia/0101.jpeg', 'Viral Pneumonia', 'd']]) {
    rows.push(`${path.join(CI_TINY, 'test', file)},${label},test,${patient}`);
  }
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const ext = await engine.evaluate({ run: out, data: csv, split: 'test', labelMap: { Normal: 'not-Covid', 'Viral Pneumonia': 'not-Covid' }, outDir: path.join(dir, 'ext') });
  assert.deepEqual(ext.classes, ['Covid', 'not-Covid']);
  assert.deepEqual(ext.modelClasses, ['Covid', 'Normal', 'Viral Pneumonia']);
  for (const p of ext.predictions) assert.ok(Math.abs(p.probabilities.Covid + p.probabilities['not-Covid'] - 1) < 1e-5);
  assert.equal(ext.patientLevel?.patients, 4);
  assert.equal(ext.withoutTrainDuplicates, null, 'other data than the run trained on: not checked, and said so');
  const other = path.join(dir, 'other-labels.csv');
  fs.writeFileSync(other, `path,label,split\n${path.join(CI_TINY, 'test', 'Covid', '0102.jpeg')},COVID-19,test\n${path.join(CI_TINY, 'test', 'Normal', '0101.jpeg')},Normal,test\n`);
  await rejectsWithCxrError(engine.evaluate({ run: out, data: other, split: 'test', labelMap: { Normal: 'not-Covid' } }), 'INVALID_ARGUMENT', /COVID-19 match none.*COVID-19=Covid/);
});

test('the model card is written with the run and rewritten with the test evaluation', async () => {
  const out = await trainedRun();
  const card = fs.readFileSync(path.join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /\*\*Research and teaching only\. Not a medical device/);
  assert.match(card, /### Dataset audit[\s\S]*source-confound/);
  assert.match(card, /Temperature scaling fitted on the 3 validation images: T = /);
  assert.match(card, /Out-of-distribution inputs are refused/);
  assert.match(card, /## Known limitations/);
  await engine.evaluate({ run: out, data: CI_TINY, split: 'test' });
  const cli = spawnSync(process.execPath, [BIN, 'card', out], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /Accuracy \d+\.\d% \(\d\/6; 95% Wilson interval/);
  assert.match(cli.stdout, /### With and without test images that have a copy in train/);
  assert.match(cli.stdout, /Macro AUC .* 95% bootstrap interval/);
  assert.equal(fs.readFileSync(path.join(out, 'MODEL_CARD.md'), 'utf8'), cli.stdout.replace(/\n$/, ''));
  engine.dispose();
});

test('predict after explain on the same loaded run (the heatmap editor then Classify) answers, with its OOD check', async () => {
  const out = await trainedRun();
  const xray = path.join(CI_TINY, 'test', 'Covid', fs.readdirSync(path.join(CI_TINY, 'test', 'Covid'))[0]);
  const explained = await engine.explain({ run: out, image: xray });
  const [after] = await engine.predict({ run: out, files: [xray] });
  assert.equal(after.ood?.notChestRadiograph, false);
  assert.ok(Object.values(after.probabilities).every((p) => Number.isFinite(p)));
  assert.equal(after.label, explained.predicted);
});

test('explain carries the same refusal check and calibrated confidence as predict (the heatmap editor shows them)', async () => {
  const out = await trainedRun();
  const xray = path.join(CI_TINY, 'test', 'Normal', '0101.jpeg');
  for (const file of [PHOTOS[0], ABDOMEN, xray]) {
    const explained = await engine.explain({ run: out, image: file });
    const [predicted] = await engine.predict({ run: out, files: [file] });
    assert.equal(explained.status, predicted.status, file);
    assert.equal(explained.ood?.flagged, predicted.ood?.flagged, file);
    assert.equal(explained.ood?.reason, predicted.ood?.reason, file);
    assert.equal(explained.ood?.notChestRadiograph, predicted.ood?.notChestRadiograph, file);
    // explain pools the feature map of its own pass (ONNX Runtime where it loads); predict's pass is tfjs.
    assert.ok(Math.abs(explained.ood!.featureDistance! - predicted.ood!.featureDistance!) < 1e-3, `${file}: ${explained.ood!.featureDistance} vs ${predicted.ood!.featureDistance}`);
    for (const [name, p] of Object.entries(predicted.calibratedProbabilities!)) {
      assert.ok(Math.abs(explained.calibratedProbabilities![name] - p) < 1e-3, `${file} ${name}: ${explained.calibratedProbabilities![name]} vs ${p}`);
    }
    assert.equal(explained.abstainBelow, 0.6);
  }
  const cat = await engine.explain({ run: out, image: PHOTOS[0] });
  assert.equal(cat.status, 'refused');
  assert.match(cat.ood!.reason!, /^Not a chest radiograph: it is a colour image/);
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { Engine } from '../../server/src/engine/engine';
import { truncated } from '../fixtures-gen/images';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { BackendProcess, expectCxrError } from './backendProcess';

describe('backend process: explain with every class\'s maps, export, feature cache', () => {
  let backend: BackendProcess;
  let work: string;
  let run: string;

  before(async () => {
    work = tmpDir('proto-inference');
    run = path.join(work, 'runs', 'mnv2');
    await new Engine().train({
      data: requireShared(CI_TINY), out: run, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST),
      epochs: 2, seed: 4, valFraction: 0,
    });
    backend = await BackendProcess.start({ roots: [work, CI_TINY], trusted: false });
  });

  after(async () => {
    await backend?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('one explain reply carries the prediction and CAM and Grad-CAM for every class, computed by ONNX Runtime', async () => {
    const image = path.join(CI_TINY, 'test', 'Normal', '0102.jpeg');
    const res = await backend.conn.sendRequest(protocol.explain, { run, image, method: 'cam' });
    assert.equal(res.engine, 'onnxruntime');
    assert.deepEqual(res.maps?.map((m) => m.className), ['Covid', 'Normal', 'Viral Pneumonia']);
    const predictedMaps = res.maps!.find((m) => m.className === res.predicted)!;
    assert.deepEqual(predictedMaps.cam, res.heatmap.data);
    for (const m of res.maps!) {
      assert.equal(m.cam.length, 49);
      assert.equal(m.gradcam.length, 49);
    }
  });

  it("a damaged image: the reply says what is wrong in plain words; the decoder's own words reach the backend log only", async () => {
    const cut = path.join(work, 'cut.png');
    fs.writeFileSync(cut, truncated(fs.readFileSync(path.join(CI_TINY, 'test', 'Covid', '0105.png')), 0.5));
    const logged = backend.logs.length;
    const e = await expectCxrError(() => backend.conn.sendRequest(protocol.explain, { run, image: cut, method: 'cam' }));
    assert.equal(e.code, 'CORRUPT_IMAGE');
    assert.match(e.message, /^cut\.png: the PNG file is truncated: its data ends before the image does/);
    assert.deepEqual(e.details, { file: 'cut.png', problem: 'truncated' });
    assert.doesNotMatch(JSON.stringify([e.message, e.details]), /vips|spng|failOn|_buffer/i);
    const log = backend.logs.slice(logged).find((l) => l.includes('cut.png: PNG file decoder: '));
    assert.ok(log, `the decoder's words are not in the backend log: ${backend.logs.slice(logged).join(' | ')}`);
    assert.ok(log.startsWith('CORRUPT_IMAGE: cut.png: the PNG file is truncated'), log);
  });

  it('exports the run as ONNX inside the allowed roots, and refuses a destination outside them', async () => {
    const out = path.join(work, 'exported.onnx');
    const res = await backend.conn.sendRequest(protocol.exportModel, { run, format: 'onnx', out });
    assert.equal(res.path, out);
    assert.ok(fs.statSync(out).size > 8_000_000, 'the file holds the weights');
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.exportModel, { run, format: 'onnx', out: '/tmp/elsewhere.onnx' }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
    assert.ok(!fs.existsSync('/tmp/elsewhere.onnx'));
    const badFormat = await expectCxrError(() => backend.conn.sendRequest(protocol.exportModel, { run, format: 'keras' as never }));
    assert.equal(badFormat.code, 'INVALID_ARGUMENT');
  });

  it('runs the shortcut audits of the run on ci-tiny\'s test split, saves them and shows them in the model card', async () => {
    const result = await backend.conn.sendRequest(protocol.shortcutAudit, { run, data: CI_TINY, split: 'test' });
    assert.equal(result.n, 6);
    assert.deepEqual(result.checks.map((c) => c.name), ['lungs-masked', 'border-only', 'lung-field-energy', 'weight-randomisation']);
    for (const c of result.checks) assert.ok(c.sentence.length > 20 && c.value !== null && Number.isFinite(c.value), JSON.stringify(c));
    const saved = JSON.parse(fs.readFileSync(path.join(run, 'shortcuts.json'), 'utf8'));
    assert.deepEqual(saved.checks.map((c: { value: number }) => c.value), result.checks.map((c) => c.value));
    const card = await backend.conn.sendRequest(protocol.modelCard, { run });
    assert.ok(card.markdown.includes(result.checks[0].sentence), card.markdown);
    const outside = await expectCxrError(() => backend.conn.sendRequest(protocol.shortcutAudit, { run, data: path.dirname(requireShared(CI_TINY)) }));
    assert.equal(outside.code, 'OUTSIDE_ALLOWED_ROOTS');
  });

  it('reports the feature cache', async () => {
    const info = await backend.conn.sendRequest(protocol.cacheInfo, {});
    // The backend inherits this process's environment; run-tests.mjs gives the tests a cache folder of their own.
    if (process.env.CXR_CACHE_DIR) assert.equal(info.dir, path.resolve(process.env.CXR_CACHE_DIR));
    // The training in before() wrote its pooled features (1280 floats per image) there.
    const trained = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).split.train;
    assert.ok(info.entries >= trained && info.bytes >= info.entries * 1280 * 4, JSON.stringify(info));
  });
});

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import * as protocol from '../../common/src/protocol';
import { repoRoot } from '../../server/src/engine/locations';
import { CI_TINY, MOBILENET_DIR, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';
import { BackendProcess, expectCxrError } from './backendProcess';

const scratch = scratchDirFactory();

describe('backend process: handshake, validation and path guard', () => {
  let backend: BackendProcess;
  let work: string;
  let outside: string;
  const dataRoot = path.dirname(requireShared(CI_TINY));

  before(async () => {
    requireShared(MOBILENET_NOTOP_MANIFEST);
    work = tmpDir('proto-guard');
    outside = tmpDir('proto-outside');
    fs.mkdirSync(path.join(work, 'runs'));
    fs.mkdirSync(path.join(outside, 'secret-runs'));
    fs.symlinkSync(outside, path.join(work, 'link-out'));
    fs.symlinkSync(path.join(work, 'runs'), path.join(work, 'link-in'));
    fs.symlinkSync(path.join(outside, 'does-not-exist'), path.join(work, 'dangling'));
    backend = await BackendProcess.start({ roots: [work, dataRoot, MOBILENET_DIR], trusted: true });
  });

  after(async () => {
    await backend?.stop();
    for (const d of [work, outside]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('answers backendStatus with the engine backend, version and roots', async () => {
    const status = await backend.conn.sendRequest(protocol.backendStatus);
    assert.ok(['wasm', 'cpu', 'tensorflow'].includes(status.backend.name), status.backend.name);
    assert.ok(status.backend.candidates.length > 0);
    assert.equal(status.busy, false);
    assert.equal(status.activeTraining, null);
    assert.equal(status.protocolVersion, protocol.PROTOCOL_VERSION);
    assert.match(status.version, /^\d+\.\d+\.\d+/);
    assert.equal(status.trusted, true);
    assert.deepEqual(status.allowedRoots, [fs.realpathSync(work), fs.realpathSync(dataRoot), fs.realpathSync(MOBILENET_DIR)]);
  });

  it('scans the data folder for datasets with per-split class counts', async () => {
    const found = await backend.conn.sendRequest(protocol.scanDatasets, { roots: [dataRoot] });
    const tiny = found.find((d) => d.path === CI_TINY);
    assert.ok(tiny, `ci-tiny not among ${found.map((d) => d.path).join(', ')}`);
    assert.equal(tiny.source, 'folders');
    assert.deepEqual(tiny.classes, ['Covid', 'Normal', 'Viral Pneumonia']);
    assert.deepEqual(tiny.counts.train, { Covid: 4, Normal: 4, 'Viral Pneumonia': 4 });
    assert.deepEqual(tiny.counts.test, { Covid: 2, Normal: 2, 'Viral Pneumonia': 2 });
    assert.equal(tiny.total, 18);
    // labels.csv lists exactly ci-tiny's images with the labels and splits its folders give: not a second dataset.
    assert.ok(!found.some((d) => d.path === path.join(CI_TINY, 'labels.csv')), 'labels.csv listed as a second dataset');
  });

  it('lists an empty runs folder as no runs', async () => {
    assert.deepEqual(await backend.conn.sendRequest(protocol.listRuns, { runsRoot: path.join(work, 'runs') }), []);
  });

  it('rejects malformed params with INVALID_ARGUMENT naming the field, and keeps running', async () => {
    const cases: [string, unknown, string][] = [
      ['cxr/train', { data: CI_TINY, backbone: 'mobilenet_v2' }, 'out'],
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'runs', 'x'), backbone: 'resnet' }, 'backbone'],
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'runs', 'x'), backbone: 'mobilenet_v2', epochs: 'three' }, 'epochs'],
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'runs', 'x'), backbone: 'mobilenet_v2', epochs: 1.5 }, 'epochs'],
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'runs', 'x'), backbone: 'mobilenet_v2', augment: { zoom: 1 } }, 'rotationDeg'],
      ['cxr/listRuns', { runsRoot: 42 }, 'runsRoot'],
      ['cxr/listRuns', {}, 'runsRoot'],
      ['cxr/predict', { run: path.join(work, 'runs'), files: 'a.png' }, 'files'],
      ['cxr/predict', { run: path.join(work, 'runs'), files: [] }, 'files'],
      ['cxr/explain', { run: path.join(work, 'runs'), image: path.join(CI_TINY, 'test', 'Covid', '0102.jpeg'), alpha: 3 }, 'alpha'],
      ['cxr/evaluate', { run: path.join(work, 'runs') }, 'data'],
      ['cxr/evaluate', { run: path.join(work, 'runs'), data: CI_TINY, split: 'holdout' }, 'split'],
      ['cxr/scanDatasets', { roots: [1, 2] }, 'roots'],
      ['cxr/setTrust', { trusted: 'yes' }, 'trusted'],
      ['cxr/setAllowedRoots', { roots: 'everything' }, 'roots'],
      ['cxr/deleteRun', null, 'null'],
    ];
    for (const [method, params, field] of cases) {
      const err = await expectCxrError(() => backend.conn.sendRequest(method, params));
      assert.equal(err.code, 'INVALID_ARGUMENT', `${method} ${JSON.stringify(params)}: ${err.message}`);
      assert.equal(err.rpcCode, -32602);
      if (field !== 'null') assert.ok(err.message.includes(`'${field}'`), err.message);
      assert.ok(backend.alive, `process died after ${method}`);
    }
    const status = await backend.conn.sendRequest(protocol.backendStatus);
    assert.equal(status.busy, false);
  });

  it('refuses paths outside the allowed roots: plain, via .., via symlinks, dangling symlinks', async () => {
    const outsideCases: [string, unknown, string][] = [
      ['cxr/listRuns', { runsRoot: path.join(outside, 'secret-runs') }, 'runs folder'],
      ['cxr/listRuns', { runsRoot: `${work}/../${path.basename(outside)}/secret-runs` }, 'runs folder'],
      ['cxr/listRuns', { runsRoot: path.join(work, 'link-out', 'secret-runs') }, 'runs folder'],
      ['cxr/listRuns', { runsRoot: path.join(work, 'dangling') }, 'runs folder'],
      ['cxr/deleteRun', { runDir: path.join(work, 'link-out', 'secret-runs') }, 'run folder'],
      ['cxr/scanDatasets', { roots: [path.dirname(work)] }, 'folder to scan'],
      // A run folder that does not exist yet is judged by its nearest existing ancestor: the symlink's target.
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'link-out', 'new-run'), backbone: 'mobilenet_v2' }, 'run folder'],
      ['cxr/train', { data: outside, out: path.join(work, 'runs', 'r1'), backbone: 'mobilenet_v2' }, 'dataset'],
      ['cxr/train', { data: CI_TINY, out: path.join(work, 'runs', 'r1'), backbone: 'mobilenet_v2', weights: '/etc/passwd' }, 'weights file'],
      ['cxr/predict', { run: path.join(work, 'runs'), files: ['/etc/hostname'] }, 'image'],
      ['cxr/explain', { run: path.join(work, 'runs'), image: path.join(CI_TINY, 'test', 'Covid', '0102.jpeg'), out: path.join(outside, 'o.png') }, 'output file'],
      ['cxr/evaluate', { run: path.join(work, 'runs'), data: CI_TINY, outDir: path.join(work, '..', 'elsewhere') }, 'output folder'],
    ];
    for (const [method, params, kind] of outsideCases) {
      const err = await expectCxrError(() => backend.conn.sendRequest(method, params));
      assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS', `${method} ${JSON.stringify(params)}: ${err.code} ${err.message}`);
      assert.equal(err.rpcCode, protocol.JSON_RPC_ERROR_CODES.OUTSIDE_ALLOWED_ROOTS);
      assert.equal(err.details?.kind, kind);
      assert.ok(err.message.includes(`The ${kind} cannot be used`), err.message);
      assert.ok(err.message.includes('cxr.dataRoots'), err.message);
      assert.ok(backend.alive, `process died after ${method}`);
    }
    // Nothing was created outside the roots by the refused train request.
    assert.equal(fs.existsSync(path.join(outside, 'new-run')), false);
  });

  it('accepts a symlink that stays inside the roots, and rejects relative paths', async () => {
    assert.deepEqual(await backend.conn.sendRequest(protocol.listRuns, { runsRoot: path.join(work, 'link-in') }), []);
    const err = await expectCxrError(() => backend.conn.sendRequest(protocol.listRuns, { runsRoot: 'runs' }));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /absolute/);
  });

  it('maps engine errors to their codes (NOT_FOUND, RUN_INVALID)', async () => {
    const missing = await expectCxrError(() =>
      backend.conn.sendRequest(protocol.explain, { run: path.join(work, 'runs', 'nope'), image: path.join(CI_TINY, 'test', 'Covid', '0102.jpeg') }),
    );
    assert.equal(missing.code, 'NOT_FOUND');
    const notRun = await expectCxrError(() => backend.conn.sendRequest(protocol.deleteRun, { runDir: path.join(work, 'runs') }));
    assert.equal(notRun.code, 'RUN_INVALID');
    assert.ok(fs.existsSync(path.join(work, 'runs')), 'a folder that is not a run must not be deleted');
  });

  it('answers a damaged config.json as RUN_INVALID naming it, without a stack', async () => {
    const broken = path.join(work, 'runs', 'broken');
    fs.mkdirSync(path.join(broken, 'model'), { recursive: true });
    fs.writeFileSync(path.join(broken, 'config.json'), '{ this is not json');
    const err = await expectCxrError(() =>
      backend.conn.sendRequest(protocol.predict, { run: broken, files: [path.join(CI_TINY, 'test', 'Covid', '0102.jpeg')] }),
    );
    assert.equal(err.code, 'RUN_INVALID', err.message);
    assert.match(err.message, /config\.json is not valid JSON/);
    assert.doesNotMatch(err.message, /\n\s+at /);
    fs.rmSync(broken, { recursive: true });
  });

  it('answers an unexpected exception as INTERNAL and keeps serving', async () => {
    const err = await expectCxrError(() => backend.conn.sendRequest('cxr/_test/throw', {}));
    assert.equal(err.code, 'INTERNAL', err.message);
    assert.equal(err.rpcCode, -32603);
    assert.match(err.message, /Internal error in the CXR Studio backend/);
    assert.ok(backend.logs.some((l) => l.startsWith('Unexpected error:')), 'the stack was not logged');
    assert.ok(backend.alive);
    assert.equal((await backend.conn.sendRequest(protocol.backendStatus)).busy, false);
  });

  it('refuses training in an untrusted workspace with a clear message, and trains again once trusted', async () => {
    await backend.conn.sendRequest(protocol.setTrust, { trusted: false });
    const out = path.join(work, 'runs', 'untrusted');
    // The smallest real training: ci-tiny's 12 images at 64 x 64, one epoch, no validation split.
    const request: protocol.TrainParams = {
      data: CI_TINY, out, backbone: 'mobilenet_v2', weights: MOBILENET_NOTOP_MANIFEST, epochs: 1, imageSize: 64, batchSize: 6, valFraction: 0, augment: false,
    };
    const err = await expectCxrError(() => backend.conn.sendRequest(protocol.train, request));
    assert.match(err.message, /Training is disabled in untrusted workspaces/);
    assert.equal(err.details?.untrustedWorkspace, true);
    assert.equal(fs.existsSync(out), false);
    assert.equal((await backend.conn.sendRequest(protocol.backendStatus)).trusted, false);
    assert.equal(backend.eventsFor(out).length, 0, 'no training event for a refused run');

    await backend.conn.sendRequest(protocol.setTrust, { trusted: true });
    assert.equal((await backend.conn.sendRequest(protocol.backendStatus)).trusted, true);
    const result = await backend.conn.sendRequest(protocol.train, request);
    assert.equal(result.status, 'completed');
    assert.equal(result.epochsRun, 1);
    assert.equal(result.history.length, 1);
    assert.ok(Number.isFinite(result.history[0].loss), `loss ${result.history[0].loss}`);
    const events = backend.eventsFor(out);
    assert.ok(events.some((e) => e.kind === 'batch'), 'the training ran batches');
    assert.ok(events.some((e) => e.kind === 'epoch' && e.epoch === 1), 'the training finished its epoch');
    assert.ok(fs.existsSync(path.join(out, 'model', 'weights_manifest.json')), 'the trained model was saved');
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('narrows the roots with setAllowedRoots', async () => {
    const result = await backend.conn.sendRequest(protocol.setAllowedRoots, { roots: [path.join(work, 'link-in')] });
    assert.deepEqual(result.roots, [fs.realpathSync(path.join(work, 'runs'))]);
    const err = await expectCxrError(() => backend.conn.sendRequest(protocol.scanDatasets, { roots: [dataRoot] }));
    assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS');
    const relative = await expectCxrError(() => backend.conn.sendRequest(protocol.setAllowedRoots, { roots: ['relative/dir'] }));
    assert.equal(relative.code, 'INVALID_ARGUMENT');
  });

  it('answers unknown methods with MethodNotFound and stays alive', async () => {
    await assert.rejects(backend.conn.sendRequest('cxr/noSuchThing', {}), (e: { code?: number }) => e.code === -32601);
    assert.ok(backend.alive);
    assert.equal((await backend.conn.sendRequest(protocol.backendStatus)).busy, false);
  });
});

describe('backend process without allowed roots', () => {
  it('refuses every path until the client sends setAllowedRoots', async () => {
    const backend = await BackendProcess.start({ roots: [] });
    try {
      const err = await expectCxrError(() => backend.conn.sendRequest(protocol.scanDatasets, { roots: [path.dirname(CI_TINY)] }));
      assert.equal(err.code, 'OUTSIDE_ALLOWED_ROOTS');
      assert.match(err.message, /cxr\/setAllowedRoots/);
      await backend.conn.sendRequest(protocol.setAllowedRoots, { roots: [path.dirname(CI_TINY)] });
      const found = await backend.conn.sendRequest(protocol.scanDatasets, { roots: [path.dirname(CI_TINY)] });
      assert.ok(found.some((d) => d.path === CI_TINY));
    } finally {
      await backend.stop();
    }
  });

  it('speaks over node IPC, as the extension forks it (TransportKind.ipc)', async () => {
    const child = fork(path.join(repoRoot(), 'server', 'src', 'lsp', 'main.ts'), ['--node-ipc'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    conn.listen();
    try {
      const init = (await conn.sendRequest('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        initializationOptions: { allowedRoots: [path.dirname(CI_TINY)], trusted: true },
      })) as { serverInfo?: { name: string } };
      assert.equal(init.serverInfo?.name, 'cxr-studio-backend');
      await conn.sendNotification('initialized', {});
      const status = await conn.sendRequest(protocol.backendStatus);
      assert.equal(status.trusted, true);
      assert.deepEqual(status.allowedRoots, [fs.realpathSync(path.dirname(CI_TINY))]);
    } finally {
      conn.dispose();
      child.kill('SIGKILL');
    }
  });

  it('starts untrusted when initializationOptions leave out trusted, or say false', async () => {
    for (const trusted of ['omit', false] as const) {
      const runs = scratch('proto-untrusted');
      const backend = await BackendProcess.start({ roots: [path.dirname(CI_TINY), runs], trusted });
      try {
        assert.equal((await backend.conn.sendRequest(protocol.backendStatus)).trusted, false, `trusted: ${trusted}`);
        const out = path.join(runs, 'run');
        const err = await expectCxrError(() => backend.conn.sendRequest(protocol.train, { data: CI_TINY, out, backbone: 'mobilenet_v2', epochs: 1 }));
        assert.equal(err.details?.untrustedWorkspace, true, `trusted: ${trusted}: ${err.message}`);
        assert.equal(fs.existsSync(out), false);
      } finally {
        await backend.stop();
      }
    }
  });
});

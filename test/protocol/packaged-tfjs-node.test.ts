import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import type { DoctorReport } from '../../server/src/engine/api';
import { repoRoot } from '../../server/src/engine/locations';
import { CI_TINY, MOBILENET_DIR, MOBILENET_NOTOP_MANIFEST, requireShared, tmpDir } from '../helpers/shared';
import { readStandInLog, writeStandInTfjsNode } from '../helpers/standInTfjsNode';
import { BackendProcess } from './backendProcess';

const ROOT = repoRoot();
const DIST = path.join(ROOT, 'dist');
const TF_CORE_VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The packaged bundles (dist/ from scripts/build.mjs: tfjs-core, tfjs-layers and the engine bundled by esbuild)
 * pick up a tfjs-node that lives in a node_modules tree of its own, train on the backend it registers, and refuse
 * one built on another tfjs-core. The stand-in package (test/helpers/standInTfjsNode.ts) plays tfjs-node.
 */
describe('packaged bundles and a separately installed tfjs-node', () => {
  let scratch: string;
  let project: string;
  let mismatch: string;

  before(() => {
    requireShared(CI_TINY);
    requireShared(MOBILENET_NOTOP_MANIFEST);
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
    for (const f of ['cli.js', 'server.js', 'trainWorker.js']) assert.ok(fs.existsSync(path.join(DIST, f)), `dist/${f} was not built`);
    scratch = tmpDir('packaged-tfjs-node');
    project = path.join(scratch, 'user-tf');
    writeStandInTfjsNode(path.join(project, 'node_modules'));
    mismatch = path.join(scratch, 'old-tf');
    writeStandInTfjsNode(path.join(mismatch, 'node_modules'), { coreVersion: '4.20.0', version: '4.20.0' });
  });

  after(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  function doctor(env: NodeJS.ProcessEnv): DoctorReport {
    const childEnv = { ...process.env, ...env };
    delete childEnv.CXR_BACKEND;
    const r = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), 'doctor', '--json'], { cwd: scratch, env: childEnv, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as DoctorReport;
  }

  it('dist/cli.js doctor --json: tensorflow from CXR_TFJS_NODE, every backend and execution provider with a reason', () => {
    const report = doctor({ CXR_TFJS_NODE: project });
    assert.equal(report.name, 'tensorflow');
    assert.ok(report.reason.includes(path.join(project, 'node_modules', '@tensorflow', 'tfjs-node')), report.reason);
    assert.deepEqual(report.candidates.map((c) => c.name), ['tensorflow', 'webgpu', 'wasm', 'cpu']);
    for (const c of report.candidates) assert.ok(c.why.length > 10, `${c.name} has no reason`);
    assert.equal(report.device.kind, 'cpu');
    assert.deepEqual(report.warnings, []);
    assert.equal(typeof report.onnxRuntime.available, 'boolean');
    assert.ok(report.onnxRuntime.why.length > 10);
    for (const p of report.onnxRuntime.providers) assert.ok(p.why.length > 10, `${p.name} has no reason`);
    if (report.onnxRuntime.available) {
      assert.equal(report.onnxRuntime.order.at(-1), 'cpu');
      assert.ok(report.onnxRuntime.providers.some((p) => p.name === 'cpu' && p.available));
    }
  });

  it('dist/cli.js refuses a tfjs-node built on another tfjs-core and says so', () => {
    const report = doctor({ CXR_TFJS_NODE: mismatch });
    assert.equal(report.name, 'wasm');
    const tensorflow = report.candidates.find((c) => c.name === 'tensorflow');
    assert.equal(tensorflow?.available, false);
    const refusal = `uses @tensorflow/tfjs-core 4.20.0, but CXR Studio bundles ${TF_CORE_VERSION}`;
    assert.ok(tensorflow?.why.includes(refusal), tensorflow?.why);
    assert.equal(report.warnings.length, 1);
    assert.ok(report.warnings[0].includes(refusal), report.warnings[0]);
  });

  it('dist/server.js trains in its worker thread on the tensorflow backend registered by the separate package', async () => {
    const runs = path.join(scratch, 'runs');
    fs.mkdirSync(runs);
    const log = path.join(scratch, 'kernels.log');
    const backend = await BackendProcess.start({
      roots: [runs, path.dirname(CI_TINY), MOBILENET_DIR],
      trusted: true,
      serverModule: path.join(DIST, 'server.js'),
      env: { CXR_TFJS_NODE: project, CXR_STAND_IN_LOG: log, CXR_BACKEND: undefined },
    });
    try {
      const status = await backend.conn.sendRequest(protocol.backendStatus);
      assert.equal(status.backend.name, 'tensorflow');
      assert.ok(status.backend.reason.includes('(CXR_TFJS_NODE)'), status.backend.reason);

      const out = path.join(runs, 'on-tensorflow');
      const result = await backend.conn.sendRequest(protocol.train, {
        data: CI_TINY, out, backbone: 'mobilenet_v2', weights: MOBILENET_NOTOP_MANIFEST,
        epochs: 1, batchSize: 4, seed: 3, imageSize: 96, valFraction: 0.25,
      });
      assert.equal(result.status, 'completed');
      assert.equal(result.backend, 'tensorflow');
      assert.equal(result.device?.kind, 'cpu');
      const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as protocol.RunConfig;
      assert.equal(config.device?.backend, 'tensorflow');

      // The trained part's forward (_FusedMatMul) and gradient (BatchMatMul) ran in the training worker (a thread
      // other than the main one) on the separate package's kernels. (The frozen layers run on ONNX Runtime.)
      const workerKernels = readStandInLog(log).filter((l) => l.threadId > 0).map((l) => l.kernel);
      for (const k of ['_FusedMatMul', 'BatchMatMul', 'Softmax']) {
        assert.ok(workerKernels.includes(k), `${k} did not run on the stand-in in the worker; ran: ${workerKernels.join(', ')}`);
      }
    } finally {
      await backend.stop();
    }
  });
});

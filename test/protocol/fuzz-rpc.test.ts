/**
 * Fuzz of the real backend process over JSON-RPC: 200 requests, good ones (status, predict, explain, evaluate, runs,
 * dataset images) mixed with mutated ones (fields of the wrong kind, huge strings, deep nesting, NUL bytes, paths
 * outside the roots, damaged images, a FIFO, unknown methods), and frames whose body is not JSON. Seeded
 * (CXR_FUZZ_SEED reproduces a run). Every request must be answered within 60 s, with a result or a typed error
 * (never INTERNAL); the backend must stay alive, its memory bounded, and its live tensor count (cxr/backendStatus)
 * the same after the 200 as after the warm-up.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, it } from 'node:test';
import * as protocol from '../../common/src/protocol';
import { Engine } from '../../server/src/engine/engine';
import { truncated } from '../fixtures-gen/images';
import { FuzzRng, fuzzSeed, oddJsonValue } from '../helpers/fuzz';
import { CI_TINY, requireShared } from '../helpers/shared';
import { scratchDirFactory } from '../helpers/scratch';
import { BackendProcess } from './backendProcess';

const SEED = fuzzSeed(9);
const REQUESTS = 200;
/** JSON-RPC's own codes for a request it cannot route or whose params are not an object or array. */
const RPC_CODES = new Set([-32600, -32601, -32602]);
const IMAGE = path.join(CI_TINY, 'test', 'Covid', '0102.jpeg');
const scratch = scratchDirFactory();
let work: string;
let run: string;
let backend: BackendProcess;

interface Call {
  method: string;
  params?: unknown;
}

function goodCalls(): Call[] {
  return [
    { method: protocol.backendStatus.method },
    { method: protocol.predict.method, params: { run, files: [IMAGE] } },
    { method: protocol.explain.method, params: { run, image: IMAGE, method: 'gradcam' } },
    { method: protocol.evaluate.method, params: { run, data: CI_TINY, outDir: path.join(work, 'eval') } },
    { method: protocol.listRuns.method, params: { runsRoot: work } },
    { method: protocol.runDetails.method, params: { runDir: run } },
    { method: protocol.datasetImages.method, params: { dataset: CI_TINY } },
    { method: protocol.cacheInfo.method, params: {} },
  ];
}

function mutate(call: Call, rng: FuzzRng): Call {
  const params = typeof call.params === 'object' && call.params !== null ? { ...(call.params as Record<string, unknown>) } : {};
  const keys = Object.keys(params);
  switch (rng.int(6)) {
    case 0:
      if (keys.length > 0) params[rng.pick(keys)] = oddJsonValue(rng);
      return { method: call.method, params };
    case 1:
      return { method: call.method, params: oddJsonValue(rng) };
    case 2:
      if (keys.length > 0) delete params[rng.pick(keys)];
      params[rng.pick(['extra', 'constructor', '__proto__', 'run'])] = oddJsonValue(rng);
      return { method: call.method, params };
    case 3:
      return { method: rng.pick(['cxr/nope', 'cxr/', '', call.method.toUpperCase(), `${call.method}/x`, 'cxr/_test/killTrainingWorker']), params: call.params };
    case 4: {
      const image = rng.pick([path.join(work, 'damaged.png'), path.join(work, 'pipe.png'), path.join(work, 'notes.jpeg'), '/etc/hostname', path.join(work, 'link-out.png'), path.join(work, 'missing.png')]);
      return rng.next() < 0.5
        ? { method: protocol.predict.method, params: { run, files: [IMAGE, image] } }
        : { method: protocol.explain.method, params: { run, image, className: rng.pick(['Covid', 'Fracture', '']) } };
    }
    default:
      return { method: protocol.train.method, params: { data: CI_TINY, out: path.join(work, 'x'), backbone: 'mobilenet_v2', imageSize: oddJsonValue(rng), epochs: oddJsonValue(rng) } };
  }
}

/** Null when the outcome is acceptable, else what is wrong. */
async function callOnce(call: Call): Promise<{ problem: string | null; outcome: string }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), 60_000)));
  try {
    const request = call.params === undefined ? backend.conn.sendRequest(call.method) : backend.conn.sendRequest(call.method, call.params);
    const r = await Promise.race([request, hang]);
    if (r === 'hang') return { problem: 'no answer within 60 s', outcome: 'hang' };
    return { problem: null, outcome: 'ok' };
  } catch (e) {
    const data = protocol.cxrErrorData(e);
    if (data) return { problem: data.code === 'INTERNAL' ? `INTERNAL: ${(e as Error).message}` : null, outcome: data.code };
    const code = (e as { code?: number }).code;
    return { problem: RPC_CODES.has(code ?? 0) ? null : `untyped error ${code}: ${(e as Error).message}`, outcome: `rpc ${code}` };
  } finally {
    clearTimeout(timer);
  }
}

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

before(async () => {
  requireShared(CI_TINY);
  work = scratch('fuzz-rpc');
  run = path.join(work, 'run');
  const r = await new Engine().train({ data: CI_TINY, out: run, backbone: 'mobilenet_v2', epochs: 1, imageSize: 32, seed: 6 });
  assert.equal(r.status, 'completed');
  fs.writeFileSync(path.join(work, 'damaged.png'), truncated(fs.readFileSync(path.join(CI_TINY, 'test', 'Covid', '0105.png')), 0.3));
  fs.writeFileSync(path.join(work, 'notes.jpeg'), 'not an image');
  execFileSync('mkfifo', [path.join(work, 'pipe.png')]);
  fs.symlinkSync('/etc/hostname', path.join(work, 'link-out.png'));
  backend = await BackendProcess.start({ roots: [work, CI_TINY] });
});

after(async () => {
  await backend?.stop();
});

it(`${REQUESTS} mixed good and mutated requests and non-JSON frames: all answered, typed, no leak (seed ${SEED})`, async (t) => {
  const rng = new FuzzRng(SEED);
  const good = goodCalls();
  for (const call of [...good, ...good]) {
    const { problem, outcome } = await callOnce(call);
    assert.equal(problem, null, `warm-up ${call.method}: ${outcome}`);
    assert.equal(outcome, 'ok', `warm-up ${call.method} failed: ${outcome}`);
  }
  const status = async (): Promise<protocol.BackendStatus> => backend.conn.sendRequest(protocol.backendStatus);
  const tensorsBefore = (await status()).tensors;
  assert.ok(typeof tensorsBefore === 'number' && tensorsBefore > 0, 'backendStatus reports no tensor count');
  const rssBefore = rssMiB(backend.proc.pid!);

  const failures: string[] = [];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < REQUESTS; i++) {
    if (i % 25 === 12) {
      // A frame with a correct length whose body is not JSON: logged, no answer, the next request still works.
      const body = rng.pick(['{"jsonrpc":"2.0","id":', 'garbage', '{"jsonrpc": "2.0", "method": 7}', '[]']);
      backend.proc.stdin!.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
    const call = rng.next() < 0.4 ? rng.pick(good) : mutate(rng.pick(good), rng);
    const { problem, outcome } = await callOnce(call);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    if (problem) failures.push(`request ${i} ${call.method} ${JSON.stringify(call.params)?.slice(0, 300)}: ${problem}`);
    if (!backend.alive) {
      failures.push(`the backend exited after request ${i}`);
      break;
    }
  }
  t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.deepEqual(failures, [], `seed ${SEED}; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok((outcomes.get('ok') ?? 0) >= REQUESTS / 4, `too few good requests succeeded: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok(outcomes.size >= 5, `the mutations reached few outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);

  const after = await status();
  assert.equal(after.tensors, tensorsBefore, 'tensors leaked over the 200 requests');
  const growth = rssMiB(backend.proc.pid!) - rssBefore;
  assert.ok(growth < 400, `resident memory grew by ${growth.toFixed(0)} MiB`);
});

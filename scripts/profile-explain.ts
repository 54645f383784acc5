/**
 * Where one classify + CAM request's time goes (not a test): the phases inside the engine, the whole engine call,
 * and the round trip through the backend process's JSON-RPC, medians over warm repetitions, with the reply's size.
 *   CXR_SHARED_DIR=... node --import tsx scripts/profile-explain.ts [--run DIR] [--repeats 60]
 * Without --run it trains the reference run (covid19-dataset, 20 epochs, seed 42) in a temp folder first.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as protocol from '../common/src/protocol';
import { decodeImage } from '../server/src/engine/data/decode';
import { loadDataset } from '../server/src/engine/data/dataset';
import { Engine } from '../server/src/engine/engine';
import { renderOverlayPng, upsampleBilinear } from '../server/src/engine/explain/render';
import { RunSession } from '../server/src/engine/inference/runSession';
import { loadRunModel } from '../server/src/engine/inference/runModel';
import { dataDir } from '../server/src/engine/locations';
import { checkChestRadiograph } from '../server/src/engine/ood/chestCheck';
import { readTrustModels, trustFields } from '../server/src/engine/ood/explainTrust';
import { UNRESTRICTED } from '../server/src/engine/security/pathPolicy';
import { BackendProcess } from '../test/protocol/backendProcess';

const { values } = parseArgs({ options: { run: { type: 'string' }, repeats: { type: 'string', default: '60' } } });
const repeats = Number(values.repeats);
const COVID = path.join(dataDir(), 'covid19-dataset');
const log = (s: string): void => void process.stdout.write(s + '\n');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed<T>(times: number[], job: () => Promise<T> | T): Promise<T> {
  const t = performance.now();
  const out = await job();
  times.push(performance.now() - t);
  return out;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cxr-profile-'));
  try {
    const engine = new Engine();
    let run = values.run;
    if (!run) {
      run = path.join(work, 'reference');
      await engine.train({ data: COVID, out: run, backbone: 'mobilenet_v2', seed: 42, epochs: 20, valFraction: 0 });
    }
    const images = (await loadDataset(COVID)).items.filter((i) => i.split === 'test').map((i) => i.path);
    log(`# one classify + CAM request, ${repeats} warm repetitions over ${images.length} test images; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

    // The phases, one by one, as engine.explain runs them.
    const loaded = await loadRunModel(run, UNRESTRICTED);
    const session = await RunSession.open(loaded);
    const size = loaded.config.imageSize;
    const t: Record<string, number[]> = { decode: [], pass: [], maps: [], trust: [], upsample: [], json: [], png: [] };
    let jsonBytes = 0;
    for (let i = 0; i < repeats + 5; i++) {
      const file = images[i % images.length];
      const decoded = await timed(t.decode, () => decodeImage(file, size));
      await timed(t.pass, () => session.featureMaps(decoded.data));
      const maps = (await timed(t.maps, () => session.explainAll(decoded.data)))!;
      await timed(t.trust, () => trustFields(loaded.config.classes, maps.probabilities, checkChestRadiograph(decoded), maps.pooled, readTrustModels(run!, UNRESTRICTED)));
      const upsampled = await timed(t.upsample, () => upsampleBilinear(maps.cam[0].map, maps.width, maps.height, size, size));
      const reply = { heatmap: Array.from(maps.cam[0].map), maps: loaded.config.classes.map((c, k) => ({ className: c, cam: Array.from(maps.cam[k].map), gradcam: Array.from(maps.gradcam[k].map) })) };
      jsonBytes = (await timed(t.json, () => JSON.stringify(reply))).length;
      await timed(t.png, () => renderOverlayPng(decoded.data, size, upsampled, 0.35));
      if (i < 5) for (const k of Object.keys(t)) t[k].length = 0; // warm-up
    }
    // explainAll includes its own pass: the map arithmetic is the difference.
    const mapsOnly = median(t.maps) - median(t.pass);
    log(`engine phases (median ms): decode ${median(t.decode).toFixed(2)}, forward pass ${median(t.pass).toFixed(2)}, CAM + Grad-CAM maps of every class ${mapsOnly.toFixed(2)}, ` +
      `OOD + calibration ${median(t.trust).toFixed(2)}, upsample to ${size} px ${median(t.upsample).toFixed(2)}, JSON of the maps ${median(t.json).toFixed(2)} (${jsonBytes} bytes), ` +
      `PNG overlay (only when asked) ${median(t.png).toFixed(2)}`);
    session.dispose();

    const whole: number[] = [];
    for (let i = 0; i < repeats + 5; i++) await timed(whole, () => engine.explain({ run: run!, image: images[i % images.length], method: 'cam' }));
    log(`engine.explain in this process: median ${median(whole.slice(5)).toFixed(2)} ms`);
    engine.dispose();

    const backend = await BackendProcess.start({ roots: [work, COVID, path.dirname(run)] });
    try {
      const rpc: number[] = [];
      let replyBytes = 0;
      for (let i = 0; i < repeats + 5; i++) {
        const r = await timed(rpc, () => backend.conn.sendRequest(protocol.explain, { run: run!, image: images[i % images.length], method: 'cam' }));
        replyBytes = JSON.stringify(r).length;
      }
      log(`through JSON-RPC: median ${median(rpc.slice(5)).toFixed(2)} ms, reply ${replyBytes} bytes of JSON`);
    } finally {
      await backend.stop();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});

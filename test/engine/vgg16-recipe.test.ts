/**
 * VGG16 trained with the method's recipe through the real trainer: cut at block3_pool (blocks 4-5 and the head
 * train), the method's augmentation (so the frozen part runs on every batch), SGD 3e-3 momentum 0.9, and a batch
 * larger than the trainer's micro-batch for trainable convolutions (8), so gradients are accumulated over micro-batches.
 * No ImageNet VGG16 weights exist here: random weights and 32 x 32 inputs keep it fast; the code path is the real one.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { TrainEvent } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { METHOD_AUGMENTATION } from '../../server/src/engine/models/registry';
import { readWeightsFile } from '../../server/src/engine/models/weights';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, requireShared } from '../helpers/shared';

const scratch = scratchDirFactory();

async function readValues(manifest: string): Promise<Map<string, Float32Array>> {
  const tensors = await readWeightsFile(manifest);
  const values = new Map([...tensors].map(([name, t]) => [name, t.dataSync() as Float32Array]));
  tensors.forEach((t) => t.dispose());
  return values;
}

test('VGG16 with the method recipe: frozen to block3_pool, augmented, micro-batched, blocks 4-5 and the head learn', async () => {
  const dir = scratch('vgg16');
  const out = path.join(dir, 'run');
  const afterEpoch1 = path.join(dir, 'checkpoint-epoch-1');
  const events: TrainEvent[] = [];
  const result = await engine().train(
    { data: requireShared(CI_TINY), out, backbone: 'vgg16', imageSize: 32, epochs: 2, batchSize: 12, valFraction: 0, seed: 4 },
    (e) => {
      events.push(e);
      // The checkpoint is written before the epoch event: keep epoch 1's weights to compare with epoch 2's.
      if (e.kind === 'epoch' && e.epoch === 1) fs.cpSync(path.join(out, 'checkpoint'), afterEpoch1, { recursive: true });
    },
  );
  assert.equal(result.status, 'completed');
  assert.equal(result.epochsRun, 2);
  assert.ok(result.history.every((h) => Number.isFinite(h.loss)), JSON.stringify(result.history));

  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  assert.equal(config.freezeAt, 'block3_pool', "the method's cut: all but the last 8 layers frozen");
  assert.deepEqual(config.augment, METHOD_AUGMENTATION);
  assert.equal(config.learningRate, 3e-3);
  assert.equal(config.momentum, 0.9);
  assert.equal(config.batchSize, 12);
  assert.equal(config.pretrained ?? false, false);
  const warnings = events.filter((e) => e.kind === 'warning').map((e) => (e as { message: string }).message);
  assert.ok(warnings.some((w) => /NO PRETRAINED WEIGHTS/.test(w)), `random initialisation is announced: ${warnings.join(' | ')}`);
  // With augmentation the frozen part runs on each augmented batch, never once up front.
  const phases = events.filter((e) => e.kind === 'phase').map((e) => (e as { message: string }).message);
  assert.ok(!phases.some((m) => /once over the training set/.test(m)), phases.join(' | '));
  assert.equal(events.filter((e) => e.kind === 'batch').length, 2, 'one batch of 12 per epoch');

  const before = await readValues(path.join(afterEpoch1, 'weights_manifest.json'));
  const after = await readValues(path.join(out, 'checkpoint', 'weights_manifest.json'));
  let frozen = 0;
  const trainedChanged = new Set<string>();
  for (const [name, a] of before) {
    if (name.startsWith('__optimizer__/')) continue;
    const b = after.get(name);
    assert.ok(b, `epoch 2 checkpoint has ${name}`);
    const identical = a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
    const layer = name.split('/')[0];
    if (/^block[123]_/.test(layer)) {
      assert.ok(identical, `frozen ${name} changed in epoch 2`);
      frozen++;
    } else if (!identical) {
      trainedChanged.add(layer);
    }
  }
  assert.equal(frozen, 14, 'blocks 1-3: 7 convs, kernel and bias each');
  for (const layer of ['block4_conv1', 'block4_conv3', 'block5_conv1', 'block5_conv3']) {
    assert.ok(trainedChanged.has(layer), `${layer} did not train (changed: ${[...trainedChanged].join(', ')})`);
  }
  assert.ok([...trainedChanged].some((l) => !l.startsWith('block')), `the head did not train (changed: ${[...trainedChanged].join(', ')})`);
});

let shared: Engine | undefined;
function engine(): Engine {
  shared ??= new Engine();
  return shared;
}

/**
 * The pure logic behind the training form and the dashboard's progress line: the form's check uses the engine's own
 * ranges and sentences (and builds exactly the request the values say), the dashboard's reducer times each phase and
 * the training from its first batch, and the ETA follows the measured pace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrainingOptions } from '../../common/src/protocol';
import { checkTrainingForm, mergeRemembered, recipeValues } from '../../common/src/trainingForm';
import { etaSeconds, formatDuration } from '../../common/src/trainingProgress';
import { applyTrainEvent, emptyDashboardState } from '../../common/src/webviewProtocol';
import { CxrError } from '../../server/src/engine/errors';
import { validateTrainingNumbers } from '../../server/src/engine/numbers';
import { rangeProblem } from '../../server/src/engine/trainingRanges';

const OPTIONS: TrainingOptions = {
  backbones: [
    {
      backbone: 'mobilenet_v2', label: 'MobileNetV2', imageSize: 224, weights: null, defaultFreezeAt: 'out_relu', freezePoints: ['block_1_project_BN', 'out_relu'],
      recipe: { epochs: 20, batchSize: 32, learningRate: 0.003, momentum: 0.9, augment: null },
      augmentWhenOn: { rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 },
    },
    {
      backbone: 'vgg16', label: 'VGG16', imageSize: 224, weights: null, defaultFreezeAt: 'block3_pool', freezePoints: ['block3_pool', 'block5_pool'],
      recipe: { epochs: 20, batchSize: 32, learningRate: 0.003, momentum: 0.9, augment: { rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 } },
      augmentWhenOn: { rotationDeg: 10, widthShift: 0.2, heightShift: 0.2, zoom: 0.2 },
    },
  ],
  valFraction: 0.1,
  seed: 42,
  batchNorm: 'inference',
};
const DATASETS = [{ path: '/data/ci-tiny', label: 'ci-tiny', classes: ['A', 'B'], total: 18 }];

describe('training form check', () => {
  it("builds the request from the recipe's values", () => {
    const values = recipeValues(OPTIONS, 'mobilenet_v2', { dataset: '/data/ci-tiny', weights: '' });
    const { problems, request } = checkTrainingForm({ ...values, epochs: '3' }, OPTIONS, DATASETS);
    assert.deepEqual(problems, {});
    assert.deepEqual(request, {
      data: '/data/ci-tiny', backbone: 'mobilenet_v2', freezeAt: 'out_relu', epochs: 3, batchSize: 32, learningRate: 0.003, momentum: 0.9,
      valFraction: 0.1, seed: 42, augment: false, batchNorm: 'inference',
    });
  });

  it("refuses what the engine refuses, with the engine's sentence", () => {
    const values = recipeValues(OPTIONS, 'vgg16', { dataset: '/data/ci-tiny', weights: '' });
    const bad = { ...values, momentum: '1', learningRate: '0', batchSize: '4097', epochs: '2.5', zoom: '1', seed: '-1', freezeAt: 'out_relu' };
    const { problems, request } = checkTrainingForm(bad, OPTIONS, DATASETS);
    assert.equal(request, null);
    assert.deepEqual(Object.keys(problems).sort(), ['batchSize', 'epochs', 'freezeAt', 'learningRate', 'momentum', 'seed', 'zoom']);
    for (const [field, value] of [['momentum', 1], ['learningRate', 0], ['batchSize', 4097], ['epochs', 2.5], ['zoom', 1], ['seed', -1]] as const) {
      assert.throws(() => validateTrainingNumbers({ [field]: value }), (e: unknown) => e instanceof CxrError && e.code === 'INVALID_ARGUMENT' && e.message === problems[field]);
    }
    // Augmentation values are not checked while augmentation is off.
    assert.equal(checkTrainingForm({ ...recipeValues(OPTIONS, 'mobilenet_v2', { dataset: '/data/ci-tiny', weights: '' }), zoom: 'x' }, OPTIONS, DATASETS).problems.zoom, undefined);
    assert.match(checkTrainingForm({ ...values, dataset: '' }, OPTIONS, []).problems.dataset ?? '', /No dataset found/);
    assert.equal(rangeProblem('momentum', 0.99), null);
  });

  it('takes remembered values only where they still fit', () => {
    const defaults = recipeValues(OPTIONS, 'mobilenet_v2', { dataset: '/data/ci-tiny', weights: '' });
    const merged = mergeRemembered({ epochs: '5', backbone: 'resnet', freezeAt: 'gone', augment: 'yes', extra: 1 }, defaults, OPTIONS);
    assert.equal(merged.epochs, '5');
    assert.equal(merged.backbone, 'mobilenet_v2');
    assert.equal(merged.freezeAt, 'out_relu');
    assert.equal(merged.augment, false);
    assert.ok(!('extra' in merged));
  });
});

describe('dashboard progress and ETA', () => {
  it('times each phase from its first report and the training from its first batch', () => {
    const s = emptyDashboardState(null);
    applyTrainEvent(s, { kind: 'phase', phase: 'features', message: 'train images', done: 1, total: 10 }, 1000);
    applyTrainEvent(s, { kind: 'phase', phase: 'features', message: 'train images', done: 5, total: 10 }, 3000);
    assert.equal(s.phase?.startedAt, 1000);
    assert.equal(etaSeconds(s.phase!.done!, s.phase!.total!, 0, 3000 - s.phase!.startedAt!), 2); // 2 s for 5 images -> 2 s for the other 5
    applyTrainEvent(s, { kind: 'phase', phase: 'features', message: 'val images', done: 1, total: 4 }, 4000);
    assert.equal(s.phase?.startedAt, 4000, 'a count that starts again is a new phase');
    applyTrainEvent(s, { kind: 'phase', phase: 'training', message: 'Training' }, 5000);
    // A resumed run: epoch 3 of 4, 10 batches each; its first batch here is batch 21 overall.
    applyTrainEvent(s, { kind: 'batch', epoch: 3, epochs: 4, batch: 1, batches: 10, loss: 1, accuracy: 0.5 }, 6000);
    assert.deepEqual([s.phase?.startDone, s.phase?.startedAt], [21, 6000]);
    applyTrainEvent(s, { kind: 'batch', epoch: 3, epochs: 4, batch: 5, batches: 10, loss: 1, accuracy: 0.5 }, 8000);
    // 4 batches in 2 s since batch 21 ended -> the 15 left take 7.5 s.
    assert.equal(etaSeconds(25, 40, s.phase!.startDone!, 8000 - s.phase!.startedAt!), 7.5);
    assert.equal(etaSeconds(21, 40, 20, 500), undefined, 'no estimate from one batch');
  });

  it('formats durations', () => {
    assert.deepEqual([formatDuration(44.6), formatDuration(200), formatDuration(3900)], ['45 s', '3 min 20 s', '1 h 05 min']);
  });
});

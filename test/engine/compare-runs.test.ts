import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentationLabel, diffConfigs, flattenConfig, sortRuns, type CompareRun } from '../../common/src/compareRuns';
import type { RunConfig } from '../../server/src/engine/api';

/** The Compare Runs view's pure parts: the configuration diff and the table's sort. */

const CONFIG: RunConfig = {
  version: 1,
  createdAt: '2026-11-30T10:00:00.000Z',
  data: '/data/ci-tiny',
  backbone: 'mobilenet_v2',
  weights: null,
  pretrained: false,
  classes: ['Covid', 'Normal'],
  epochs: 2,
  batchSize: 4,
  learningRate: 0.01,
  momentum: 0.9,
  seed: 1,
  valFraction: 0.2,
  freezeAt: 'block_16_project_BN',
  augment: null,
  imageSize: 32,
  split: { train: 10, val: 2, test: 6, groupedByPatient: false },
};

function run(label: string, over: Partial<CompareRun>): CompareRun {
  return {
    runDir: `/runs/${label}`, folder: label, label, status: 'completed', createdAt: '2026-11-30T10:00:00.000Z', backbone: 'mobilenet_v2',
    epochs: 2, epochsRun: 2, learningRate: 0.01, momentum: 0.9, batchSize: 4, seed: 1, augmentation: 'off', bestValAccuracy: null,
    test: null, tags: [], notes: '', config: {}, history: [], ...over,
  };
}

describe('Compare Runs: configuration diff', () => {
  it('flattens nested keys, prints arrays and null, and leaves out the version and creation time', () => {
    const flat = flattenConfig({ ...CONFIG, augment: { rotationDeg: 10, widthShift: 0.1, heightShift: 0.1, zoom: 0.1 } });
    assert.equal(flat['split.train'], '10');
    assert.equal(flat['augment.rotationDeg'], '10');
    assert.equal(flat.classes, 'Covid, Normal');
    assert.equal(flat.weights, 'none');
    assert.equal('createdAt' in flat || 'version' in flat, false);
  });

  it('marks exactly the keys whose values differ, and keys only one run has', () => {
    const a = flattenConfig(CONFIG);
    const b = flattenConfig({ ...CONFIG, learningRate: 0.001, createdAt: '2026-12-01T00:00:00.000Z', batchNorm: 'inference' });
    const rows = diffConfigs(a, b);
    assert.deepEqual(rows.filter((r) => r.differs).map((r) => r.key), ['learningRate', 'batchNorm']);
    assert.deepEqual(rows.find((r) => r.key === 'batchNorm'), { key: 'batchNorm', a: null, b: 'inference', differs: true });
    assert.equal(rows.length, Object.keys(a).length + 1);
  });

  it('describes augmentation in words', () => {
    assert.equal(augmentationLabel(null), 'off');
    assert.equal(augmentationLabel({ rotationDeg: 15, widthShift: 0.1, heightShift: 0.05, zoom: 0.2 }), 'rotate ±15°, shift 0.1×0.05, zoom 0.2');
  });
});

describe('Compare Runs: sorting the table', () => {
  const runs = [
    run('b', { learningRate: 0.01, test: { accuracy: 0.5, ci: { low: 0.2, high: 0.8, level: 0.95, method: 'wilson' }, n: 6 } }),
    run('a', { learningRate: 0.1, test: null }),
    run('C', { learningRate: 0.001, test: { accuracy: 0.8, ci: { low: 0.4, high: 0.9, level: 0.95, method: 'wilson' }, n: 6 } }),
  ];
  const labels = (rs: CompareRun[]) => rs.map((r) => r.label);

  it('sorts numbers both ways', () => {
    assert.deepEqual(labels(sortRuns(runs, { column: 'learningRate', descending: false })), ['C', 'b', 'a']);
    assert.deepEqual(labels(sortRuns(runs, { column: 'learningRate', descending: true })), ['a', 'b', 'C']);
  });

  it('puts runs without a test evaluation last in either direction', () => {
    assert.deepEqual(labels(sortRuns(runs, { column: 'test', descending: true })), ['C', 'b', 'a']);
    assert.deepEqual(labels(sortRuns(runs, { column: 'test', descending: false })), ['b', 'C', 'a']);
  });

  it('sorts names ignoring case and keeps ties in their order', () => {
    assert.deepEqual(labels(sortRuns(runs, { column: 'label', descending: false })), ['a', 'b', 'C']);
    assert.deepEqual(labels(sortRuns(runs, { column: 'backbone', descending: true })), ['b', 'a', 'C']);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetLabel, datasetPlaces } from '../../client/src/datasetNames';

// The Datasets view's names: two different folders called ci-tiny (a workspace copy and the data root's own, as in
// the e2e sessions) must not give two identical rows.
test('datasets sharing a name get the fewest parent folders that tell them apart; the others none', () => {
  const datasets = [
    { path: '/tmp/cxr-e2e-x/workspace/data/ci-tiny', source: 'folders' as const },
    { path: '/work/shared/data/ci-tiny', source: 'folders' as const },
    { path: '/work/shared/data/covid19-dataset', source: 'folders' as const },
    { path: '/a/one/data/labels.csv', source: 'csv' as const },
    { path: '/b/two/data/labels.csv', source: 'csv' as const },
  ];
  assert.deepEqual(datasets.map(datasetLabel), ['ci-tiny', 'ci-tiny', 'covid19-dataset', 'data/labels.csv', 'data/labels.csv']);
  assert.deepEqual(
    [...datasetPlaces(datasets)].sort(),
    [
      ['/a/one/data/labels.csv', 'one/data'],
      ['/b/two/data/labels.csv', 'two/data'],
      ['/tmp/cxr-e2e-x/workspace/data/ci-tiny', 'workspace/data'],
      ['/work/shared/data/ci-tiny', 'shared/data'],
    ],
  );
});

test('when one dataset\'s parent folders are a tail of the other\'s, both are placed by their whole parent paths', () => {
  const places = datasetPlaces([
    { path: '/data/ci-tiny', source: 'folders' },
    { path: '/mnt/data/ci-tiny', source: 'folders' },
  ]);
  assert.deepEqual([...places].sort(), [['/data/ci-tiny', '/data'], ['/mnt/data/ci-tiny', '/mnt/data']]);
});

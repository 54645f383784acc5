/** The heatmap viewer's text alternative (common/src/heatmapView.ts describeHeatmap) on hand-made maps. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeHeatmap } from '../../common/src/heatmapView';

function grid(width: number, height: number, value: (x: number, y: number) => number) {
  const data: number[] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.push(value(x, y));
  return { width, height, data };
}

test('names the ninth of the image where the map is strongest, in image coordinates', () => {
  assert.match(describeHeatmap(grid(6, 6, (x, y) => (x < 2 && y < 2 ? 1 : 0))), /^strongest in the upper left of the image; 11% /);
  assert.match(describeHeatmap(grid(6, 6, (x, y) => (x >= 4 && y >= 4 ? 1 : 0))), /^strongest in the lower right /);
  assert.match(describeHeatmap(grid(7, 7, (x, y) => (x === 3 && y === 3 ? 1 : 0))), /^strongest in the centre of the image; 2% /);
  assert.match(describeHeatmap(grid(6, 6, (x, y) => (x >= 4 && y >= 2 && y < 4 ? 0.8 : 0.1))), /^strongest in the middle right /);
});

test('says how much of the image is at least half as strong as the peak', () => {
  // Left half 1, right half 0.2: half the image is hot (the middle of the range is 0.6).
  assert.match(describeHeatmap(grid(10, 10, (x) => (x < 5 ? 1 : 0.2))), /; 50% of the image is at least half as strong as the peak$/);
});

test('a flat or empty map says so instead of naming a place', () => {
  assert.equal(describeHeatmap(grid(4, 4, () => 0.3)), 'flat: no part of the image stands out');
  assert.equal(describeHeatmap({ width: 0, height: 0, data: [] }), 'no heatmap');
});

/**
 * Switching the heatmap viewer's target class or method without asking the backend again: an explain reply of a
 * pooling + Dense head carries every class's CAM and Grad-CAM (`maps`), so another class or method is a lookup.
 * Shared by the webview (which redraws at once) and the extension (which keeps its copy of the state in step, for
 * Export PNG and for replaying the state to a reloaded webview).
 */
import type { CamMethodName, ExplainResult } from '../../server/src/engine/api';

/**
 * The reply as if it had been asked for `method` and `target` (null: the predicted class), taken from its all-class
 * maps; null when the reply has no maps for that (another head, an unknown class): then only the backend can answer.
 */
export function selectHeatmap(result: ExplainResult, method: CamMethodName, target: string | null): ExplainResult | null {
  const className = target ?? result.predicted;
  const entry = result.maps?.find((m) => m.className === className);
  const data = entry?.[method];
  if (!entry || !data || data.length !== result.heatmap.width * result.heatmap.height) return null;
  return { ...result, method, target: className, heatmap: { width: result.heatmap.width, height: result.heatmap.height, data } };
}

const ROWS = ['upper', 'middle', 'lower'] as const;
const COLUMNS = ['left', 'centre', 'right'] as const;

/**
 * The heatmap in words, for screen readers (the canvas's text alternative): the ninth of the image where the map is
 * strongest on average, and how much of the image is at least half as hot as the hottest point. Left and right are the
 * image's own (a radiograph's left side shows the patient's right).
 */
export function describeHeatmap(grid: { width: number; height: number; data: ArrayLike<number> }): string {
  const { width, height, data } = grid;
  if (width <= 0 || height <= 0 || data.length < width * height) return 'no heatmap';
  const sums = new Array<number>(9).fill(0);
  const counts = new Array<number>(9).fill(0);
  let max = -Infinity;
  let min = Infinity;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      const cell = Math.min(2, Math.floor((3 * y) / height)) * 3 + Math.min(2, Math.floor((3 * x) / width));
      sums[cell] += v;
      counts[cell]++;
      max = Math.max(max, v);
      min = Math.min(min, v);
    }
  }
  if (!(max > min)) return 'flat: no part of the image stands out';
  const means = sums.map((sum, i) => (counts[i] > 0 ? sum / counts[i] : -Infinity));
  const peak = means.indexOf(Math.max(...means));
  const row = ROWS[Math.floor(peak / 3)];
  const column = COLUMNS[peak % 3];
  const where = row === 'middle' && column === 'centre' ? 'centre' : `${row} ${column}`;
  let hot = 0;
  for (let i = 0; i < width * height; i++) if (data[i] - min >= (max - min) / 2) hot++;
  return `strongest in the ${where} of the image; ${Math.round((100 * hot) / (width * height))}% of the image is at least half as strong as the peak`;
}

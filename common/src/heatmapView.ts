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

import * as vscode from 'vscode';
import { readEvaluation } from '../../common/src/protocol';
import type { CompareState, DashboardState, EvaluationState } from '../../common/src/webviewProtocol';
import type { ComparePanel } from './comparePanel';
import type { Backend } from './backend';
import type { DashboardPanel } from './dashboardPanel';
import { errorMessage } from './errors';
import type { EvaluationPanel } from './evaluationPanel';
import { HEATMAP_PANEL_TYPE, type HeatmapEditorProvider } from './heatmapEditor';

/**
 * Brings the dashboard, the evaluation, Compare Runs and the heatmap panels back after a window reload. Each webview
 * saves its state with setState; VS Code hands it back here, and the panel shows the same run (and split, or image)
 * again, its data replayed from the run store or explained anew.
 */
export function registerPanelSerializers(
  backend: Backend,
  dashboard: DashboardPanel,
  evaluation: EvaluationPanel,
  compare: ComparePanel,
  heatmaps: HeatmapEditorProvider,
): vscode.Disposable[] {
  return [
    vscode.window.registerWebviewPanelSerializer('cxr.dashboard', {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        dashboard.restore(panel, isObject(state) ? (state as DashboardState) : undefined);
      },
    }),
    vscode.window.registerWebviewPanelSerializer('cxr.evaluation', {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const report = isObject(state) ? (state as { report?: EvaluationState | null }).report : undefined;
        const run = report?.result?.run;
        const split = report?.result?.split;
        if (!run || !split) {
          panel.dispose();
          return;
        }
        try {
          evaluation.restore(panel, await backend.request(readEvaluation, { runDir: run, split }));
        } catch (e) {
          backend.output.warn(`The evaluation of ${run} (${split}) could not be restored: ${errorMessage(e)}`);
          panel.dispose();
        }
      },
    }),
    vscode.window.registerWebviewPanelSerializer('cxr.compare', {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        compare.restore(panel, isObject(state) ? (state as Partial<CompareState>) : undefined);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(HEATMAP_PANEL_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        heatmaps.restore(panel, state);
      },
    }),
  ];
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

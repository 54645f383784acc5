/**
 * Messages between the extension host and the CXR Studio webviews (dashboard, evaluation, heatmap editor, compare runs).
 *
 * Every webview follows the same handshake: it posts `{type: 'ready'}` once its script has loaded, and the
 * extension answers with a full `state` message. Later messages are incremental. Because panels are not kept alive
 * while hidden, a revealed panel reloads its script, posts `ready` again and receives the whole state again (replay).
 * Plain JSON only: no class instances, no functions, no Uris (webview URIs are passed as strings).
 */
import type {
  BackboneId,
  CamMethodName,
  EpochMetrics,
  EvaluateResult,
  ExplainResult,
  RunConfig,
  RunStatus,
  TrainEvent,
} from '../../server/src/engine/api';
import { batchesDone } from './trainingProgress';
import type { CompareRun } from './compareRuns';

/** The message every webview posts first (and again after each reload). */
export interface ReadyMessage {
  type: 'ready';
}

// ---------------------------------------------------------------------------------------------------------------------
// Training dashboard (viewType `cxr.dashboard`)

export interface DashboardRunInfo {
  runDir: string;
  name: string;
  backbone: BackboneId | string;
  data: string;
  epochs: number;
  batchSize: number | null;
  learningRate: number | null;
  classes: string[];
  createdAt: string | null;
  /** The run's whole config.json, once written (the dashboard lists every value). */
  config?: RunConfig;
}

/** One training-loss/accuracy sample at batch granularity; `x` is the fractional epoch (epoch 1, batch 5/10 -> 0.5). */
export interface BatchPoint {
  x: number;
  loss: number;
  accuracy: number;
}

export interface DashboardPhase {
  phase: string;
  message: string;
  done?: number;
  total?: number;
  /** When this phase began (ms since the epoch, by the clock of whoever applied the event), for the ETA. */
  startedAt?: number;
  /** Training phase: batches already done when it began (a resumed run starts part-way), for the ETA. */
  startDone?: number;
}

export interface DashboardState {
  run: DashboardRunInfo | null;
  status: RunStatus | 'idle';
  /** True while the backend is training this run (the Cancel button is enabled only then). */
  training: boolean;
  phase: DashboardPhase | null;
  /** The latest batch position, for "epoch 3/20 · batch 4/8". */
  position: { epoch: number; epochs: number; batch: number; batches: number } | null;
  epochs: EpochMetrics[];
  batches: BatchPoint[];
  bestEpoch: number | null;
  warnings: string[];
  error: string | null;
}

export type DashboardToWebview =
  | { type: 'state'; state: DashboardState }
  | { type: 'trainEvent'; runDir: string; event: TrainEvent }
  | { type: 'finished'; runDir: string; status: RunStatus | 'idle'; error: string | null; bestEpoch: number | null };

export type DashboardFromWebview = ReadyMessage | { type: 'cancel' } | { type: 'evaluate' } | { type: 'showLogs' };

// ---------------------------------------------------------------------------------------------------------------------
// Evaluation report (viewType `cxr.evaluation`)

export interface EvaluationImage {
  file: string;
  /** webview.asWebviewUri(file) as a string, or null when the browser cannot show the format (DICOM). */
  src: string | null;
  trueLabel: string;
  label: string;
  /** Probability of the predicted label. */
  confidence: number;
  /** Probability of the true label (confusion-matrix cell lists show both). */
  trueConfidence?: number;
}

export interface EvaluationState {
  runName: string;
  result: EvaluateResult;
  misclassified: EvaluationImage[];
}

/** The images of one confusion-matrix cell (true class, predicted class), most confident first. */
export interface EvaluationCellImages {
  type: 'cellImages';
  trueLabel: string;
  predicted: string;
  images: EvaluationImage[];
}

export type EvaluationToWebview = { type: 'state'; state: EvaluationState | null; message?: string } | EvaluationCellImages;

export type EvaluationFromWebview =
  | ReadyMessage
  /** Opens the heatmap viewer on the image; with `trueLabel`, for the evaluated run, showing that label. */
  | { type: 'openImage'; file: string; trueLabel?: string }
  | { type: 'openReport'; file: string }
  | { type: 'reevaluate' }
  | { type: 'cellImages'; trueLabel: string; predicted: string };

// ---------------------------------------------------------------------------------------------------------------------
// Heatmap custom editor (viewType `cxr.heatmap`)

export interface HeatmapModelInfo {
  runDir: string;
  name: string;
  classes: string[];
}

export interface HeatmapState {
  file: string;
  fileName: string;
  /** The image as the browser should show it: a data: URL (so the canvas can be exported), or null until known. */
  imageSrc: string | null;
  model: HeatmapModelInfo | null;
  method: CamMethodName;
  /** Target class; null means "the predicted class". */
  target: string | null;
  opacity: number;
  loading: boolean;
  result: ExplainResult | null;
  error: string | null;
  /** How many explain requests this viewer has sent to the backend (a class or method switch served locally sends none). */
  backendExplains: number;
  /** The image's true label when the viewer was opened from an evaluation. */
  trueLabel?: string | null;
  /** The run this viewer explains with instead of the active model (opened from an evaluation). */
  pinnedRun?: string | null;
  /** Whether the panel keeps its image ("Show Heatmap" opens the next one elsewhere); saved so a reload restores it. */
  locked?: boolean;
}

export type HeatmapToWebview =
  | { type: 'state'; state: HeatmapState }
  | { type: 'exported'; path: string | null };

export type HeatmapFromWebview =
  | ReadyMessage
  | { type: 'explain'; method: CamMethodName; target: string | null }
  /** The webview switched to another class or method from the reply's all-class maps; no backend request. */
  | { type: 'select'; method: CamMethodName; target: string | null }
  | { type: 'opacity'; opacity: number }
  | { type: 'export'; opacity: number }
  | { type: 'pickModel' };

// ---------------------------------------------------------------------------------------------------------------------
// Compare Runs (viewType `cxr.compare`)

export interface CompareState {
  runs: CompareRun[];
  /** The runs whose curves are overlaid and whose configurations can be diffed, in the order they were picked. */
  selected: string[];
  error: string | null;
}

export type CompareToWebview = { type: 'state'; state: CompareState };

export type CompareFromWebview =
  | ReadyMessage
  | { type: 'select'; runDirs: string[] }
  | { type: 'rename' | 'editNotes' | 'editTags' | 'openDashboard'; runDir: string }
  | { type: 'refresh' };

/** Element ids of the Compare Runs view (and of its end-to-end test). */
export const CompareIds = {
  table: 'runs-table',
  lossChart: 'compare-loss-chart',
  accuracyChart: 'compare-accuracy-chart',
  diff: 'config-diff',
  diffA: 'diff-run-a',
  diffB: 'diff-run-b',
  diffOnly: 'diff-only',
  refresh: 'refresh-runs',
  researchNote: 'research-note',
} as const;

/** Stable element ids used by the webviews (and by the end-to-end tests). */
export const WebviewIds = {
  dashboard: {
    runInfo: 'run-info',
    phase: 'train-phase',
    lossChart: 'loss-chart',
    accuracyChart: 'accuracy-chart',
    epochTable: 'epoch-table',
    cancel: 'cancel-training',
    status: 'run-status',
    config: 'run-config',
    eta: 'train-eta',
  },
  evaluation: {
    accuracy: 'accuracy',
    balancedAccuracy: 'balanced-accuracy',
    confusionMatrix: 'confusion-matrix',
    normalize: 'cm-normalize',
    perClass: 'per-class',
    caveats: 'caveats',
    misclassified: 'misclassified',
    researchNote: 'research-note',
    rocChart: 'roc-chart',
    prChart: 'pr-chart',
    curveLegend: 'curve-legend',
    thresholdClass: 'threshold-class',
    thresholdSlider: 'threshold-slider',
    thresholdInput: 'threshold-input',
    sensitivity: 'threshold-sensitivity',
    specificity: 'threshold-specificity',
    thresholdCounts: 'threshold-counts',
    cellImages: 'cell-images',
  },
  heatmap: {
    image: 'heatmap-image',
    canvas: 'heatmap-canvas',
    opacity: 'opacity-slider',
    method: 'method-select',
    target: 'target-select',
    probabilities: 'probabilities',
    predicted: 'predicted-class',
    exportPng: 'export-png',
    noModel: 'no-model',
    pickModel: 'pick-model',
    researchNote: 'research-note',
    /** The out-of-distribution verdict and calibrated confidence (data-status: refused, uncertain or confident). */
    trust: 'trust-status',
    trueLabel: 'true-label',
  },
} as const;

// ---------------------------------------------------------------------------------------------------------------------
// Dashboard state reducer, shared so that the extension's stored state and the webview's live copy never disagree.

/** Batch samples kept per run; older ones are thinned so a long run stays cheap to redraw and to replay. */
export const MAX_BATCH_POINTS = 4000;

export function emptyDashboardState(run: DashboardRunInfo | null): DashboardState {
  return {
    run,
    status: 'idle',
    training: false,
    phase: null,
    position: null,
    epochs: [],
    batches: [],
    bestEpoch: null,
    warnings: [],
    error: null,
  };
}

/** Applies one training event to a dashboard state in place and returns it. */
export function applyTrainEvent(state: DashboardState, event: TrainEvent, now = Date.now()): DashboardState {
  switch (event.kind) {
    case 'phase': {
      // A phase reports many times (each count); its start is when it was first seen, or when its count restarted.
      const same = state.phase?.phase === event.phase && !(event.done !== undefined && (state.phase.done ?? 0) > event.done);
      const startedAt = same ? (state.phase?.startedAt ?? now) : now;
      state.phase = { phase: event.phase, message: event.message, done: event.done, total: event.total, startedAt };
      if (event.phase !== 'finished') {
        state.training = true;
        state.status = 'running';
      }
      break;
    }
    case 'batch':
      state.training = true;
      state.status = 'running';
      if (state.phase?.phase === 'training' && state.phase.startDone === undefined) {
        // Timed from the end of the first batch: what came before (building the head, compiling kernels) is no batch work.
        state.phase.startDone = batchesDone(event);
        state.phase.startedAt = now;
      }
      state.position = { epoch: event.epoch, epochs: event.epochs, batch: event.batch, batches: event.batches };
      state.batches.push({ x: event.epoch - 1 + event.batch / Math.max(1, event.batches), loss: event.loss, accuracy: event.accuracy });
      if (state.batches.length > MAX_BATCH_POINTS) state.batches = state.batches.filter((_, i) => i % 2 === 0);
      if (state.run && state.run.epochs !== event.epochs) state.run.epochs = event.epochs;
      break;
    case 'epoch': {
      const { kind: _kind, epochs, improved, ...metrics } = event;
      state.epochs = state.epochs.filter((e) => e.epoch !== metrics.epoch);
      state.epochs.push(metrics);
      state.epochs.sort((a, b) => a.epoch - b.epoch);
      if (improved) state.bestEpoch = metrics.epoch;
      if (state.run && state.run.epochs !== epochs) state.run.epochs = epochs;
      break;
    }
    case 'warning':
      if (!state.warnings.includes(event.message)) state.warnings.push(event.message);
      break;
  }
  return state;
}

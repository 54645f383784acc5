/**
 * The engine's message-shaped API: plain JSON-serialisable data in and out. The CLI, the language server and
 * (later) worker threads all speak these shapes, so nothing here may hold a tensor, a class instance or a function.
 */

import type { BackboneId, BackendName, BatchNormMode, CamMethodName, SplitName } from './names';

/**
 * BatchNormMode: how BatchNorm layers in the trained part behave during training. 'inference': moving statistics,
 * never updated (Keras `base(x, training=False)`), so small batches cannot wreck them; gamma and beta still train.
 * 'batch': the statistics of each micro-batch, moving statistics updated (Keras `training=True`).
 */
export type { BackboneId, BackendName, BatchNormMode, CamMethodName, SplitName } from './names';

/** What the chosen backend computes on. */
export interface ComputeDevice {
  kind: 'cpu' | 'gpu';
  /** Processor or GPU name, as the backend or the system reports it. */
  name: string;
  /** A GPU interface emulated on the CPU (lavapipe, SwiftShader): correct but slow. */
  software?: boolean;
}

export interface BackendCandidate {
  name: BackendName;
  available: boolean;
  /** Why it was chosen, or why it was not (not installed, failed to initialise, lower priority). */
  why: string;
}

export interface BackendReport {
  name: BackendName;
  reason: string;
  candidates: BackendCandidate[];
  versions: Record<string, string>;
  /** Custom kernels this project registered on the chosen backend (e.g. wasm gradient kernels). */
  customKernels: string[];
  device: ComputeDevice;
  /** Why the backend asked for is not the one in use (failed to initialise, refused version, device failure). */
  warnings: string[];
  /**
   * The engine of every pass without gradients (frozen layers in training, predict, evaluate, CAM): ONNX Runtime
   * when onnxruntime-node loads, else the tfjs backend above (with the reason). Training steps always run on tfjs.
   */
  gradientFree?: { engine: 'onnxruntime' | 'tfjs'; version?: string; threads?: number; reason?: string };
}

/** An ONNX Runtime execution provider, and why it is or is not available and used. */
export interface ExecutionProviderStatus {
  name: string;
  available: boolean;
  why: string;
}

/** ONNX Runtime (inference only) and its execution providers. */
export interface OnnxRuntimeReport {
  available: boolean;
  version: string | null;
  why: string;
  /** auto, cpu, cuda, dml or coreml (cxr.onnxExecutionProvider / --ort-provider). */
  preference: string;
  /** Providers a session is created with, in order (the last is always cpu). */
  order: string[];
  providers: ExecutionProviderStatus[];
  warnings: string[];
}

/** `cxr doctor --json`: the chosen backend, every backend and execution provider with why it is or is not available. */
export interface DoctorReport extends BackendReport {
  onnxRuntime: OnnxRuntimeReport;
  /** How this process was started: GLIBC_TUNABLES as it saw it (huge pages for malloc, server/src/launch/hugePages.ts). */
  process: { glibcTunables: string | null };
}

export interface AugmentParams {
  /** Maximum rotation in degrees (uniform in [-r, r]). */
  rotationDeg: number;
  /**
   * Keras's width_shift_range: maximum shift as a fraction of the width. As in Keras's ImageDataGenerator (whose
   * draws this follows, data/augment.ts), it becomes ty and moves the picture vertically.
   */
  widthShift: number;
  /** Keras's height_shift_range: as a fraction of the height; as in Keras it becomes tx and moves the picture sideways. */
  heightShift: number;
  /** Zoom range: scale drawn uniformly from [1 - zoom, 1 + zoom], as Keras ImageDataGenerator. */
  zoom: number;
}

export interface TrainRequest {
  /** Dataset root (`<root>/{train,test}/<class>/...`) or a CSV manifest. */
  data: string;
  /** Run folder to create (or to resume). */
  out: string;
  backbone: BackboneId;
  /** Pretrained weights: a TF.js weights_manifest.json (or its folder), a Keras HDF5 file (.h5, .weights.h5) or a .keras archive. */
  weights?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  momentum?: number;
  seed?: number;
  /** Fraction of train carved out for validation (stratified, grouped by patient when IDs exist). */
  valFraction?: number;
  /** Layer name: this layer and everything before it stays frozen. Defaults to the backbone's. */
  freezeAt?: string;
  /** false turns augmentation off; an object overrides the backbone's recipe. */
  augment?: boolean | AugmentParams;
  /** BatchNorm layers after `freezeAt`: 'inference' (default, Keras's transfer-learning guide) or 'batch' statistics. */
  batchNorm?: BatchNormMode;
  imageSize?: number;
  /** Continue an interrupted run in `out` from its last checkpoint. */
  resume?: boolean;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  seconds: number;
}

export type TrainEvent =
  | { kind: 'phase'; phase: 'preparing' | 'decoding' | 'features' | 'training' | 'finished'; message: string; done?: number; total?: number }
  | { kind: 'batch'; epoch: number; epochs: number; batch: number; batches: number; loss: number; accuracy: number }
  | ({ kind: 'epoch'; epochs: number; improved: boolean } & EpochMetrics)
  | { kind: 'warning'; message: string };

export type RunStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

export interface TrainResult {
  runDir: string;
  status: RunStatus;
  epochsRun: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  bestValAccuracy: number | null;
  history: EpochMetrics[];
  backend: BackendName;
  /** The device this run trained on (it never changes during a run). */
  device?: ComputeDevice;
  seconds: number;
  warnings: string[];
}

/** Saved as config.json in every run folder. */
export interface RunConfig {
  version: 1;
  createdAt: string;
  data: string;
  backbone: BackboneId;
  weights: string | null;
  pretrained: boolean;
  classes: string[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  seed: number;
  valFraction: number;
  freezeAt: string;
  augment: AugmentParams | null;
  /** Absent in runs made before the option existed: those trained on batch statistics. */
  batchNorm?: BatchNormMode;
  imageSize: number;
  split: { train: number; val: number; test: number; groupedByPatient: boolean };
  /** Backend and device the run started on (absent in runs made before it was recorded). */
  device?: { backend: BackendName } & ComputeDevice;
}

export interface RunSummary {
  runDir: string;
  name: string;
  status: RunStatus;
  backbone: BackboneId;
  classes: string[];
  epochs: number;
  epochsRun: number;
  bestEpoch: number | null;
  bestValAccuracy: number | null;
  testAccuracy: number | null;
  createdAt: string;
  /** Whether a finished epoch left a model: only then can the run be evaluated, explained or made the active model. */
  hasModel: boolean;
  /** The name the user gave the run (meta.json); null shows the folder name. The folder itself is never renamed. */
  displayName: string | null;
  /** The user's notes on the run (meta.json); '' when none. */
  notes: string;
  /** The user's tags on the run (meta.json), in the order given. */
  tags: string[];
}

/** What the user says about a run, kept in its meta.json by the run store. */
export interface RunMeta {
  displayName: string | null;
  notes: string;
  tags: string[];
}

/** Changes to a run's meta.json: fields left out stay as they are; displayName null goes back to the folder name. */
export interface RunMetaUpdate {
  runDir: string;
  displayName?: string | null;
  notes?: string;
  tags?: string[];
}

/** One saved evaluation of a run (`<run>/evaluation/<split>/evaluation.json`), without its predictions. */
export interface EvaluationSummary {
  split: string;
  data: string;
  n: number;
  accuracy: number;
  accuracy_ci: Interval;
  evaluatedAt: string;
}

/** Everything a run folder says about itself, as the run store reads it. */
export interface RunDetails {
  summary: RunSummary;
  config: RunConfig;
  history: EpochMetrics[];
  /** Why it failed or was interrupted, when status.json says. */
  message: string | null;
  evaluations: EvaluationSummary[];
}

export interface Interval {
  low: number;
  high: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  method: 'wilson';
}

export interface ClassMetrics {
  name: string;
  precision: number;
  precisionCi: Interval;
  recall: number;
  recallCi: Interval;
  f1: number;
  support: number;
  /** One-vs-rest ROC-AUC; null when the class is absent or the only one present. */
  auc: number | null;
}

export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvaluationMetrics {
  classes: string[];
  n: number;
  loss: number;
  accuracy: number;
  accuracy_ci: Interval;
  balanced_accuracy: number;
  /** Rows are true classes, columns predicted classes. */
  confusion_matrix: number[][];
  per_class: ClassMetrics[];
  macro_avg: AverageMetrics;
  weighted_avg: AverageMetrics;
  macro_auc: number | null;
  /** Caveats a reader must see next to the numbers (small test set, class imbalance, ...). */
  caveats: string[];
}

export interface ImagePrediction {
  file: string;
  label: string;
  classIndex: number;
  probabilities: Record<string, number>;
  /** Run models only: is the input outside what the model knows? */
  ood?: OodVerdict;
  /** Run models only: 'refused' (out of distribution), 'uncertain' (calibrated top probability below the abstain threshold) or 'confident'. */
  status?: PredictionStatus;
  /** Probabilities after the run's temperature scaling (when it has one). */
  calibratedProbabilities?: Record<string, number>;
}

export type PredictionStatus = 'confident' | 'uncertain' | 'refused';

export interface OodVerdict {
  flagged: boolean;
  /** Plain words on why it was flagged; null when not flagged. */
  reason: string | null;
  /** Distance to the training images over the threshold fitted on validation and leave-one-out training distances (> 1: unlike them); without that model, colourfulness over its limit. */
  score: number;
  /** (a) Not a frontal chest radiograph at all (colour, DICOM modality/body part, size, blank). */
  notChestRadiograph: boolean;
  /** (b) Mean cosine distance of the pooled features to the 5 nearest training images; null when the run has no OOD model. */
  featureDistance: number | null;
}

export interface EvaluatedImage extends ImagePrediction {
  trueLabel: string;
  correct: boolean;
}

export interface EvaluateRequest {
  run: string;
  data: string;
  split?: SplitName | 'all';
  /** External validation: merges/renames classes, e.g. {"Normal": "not-Covid", "Viral Pneumonia": "not-Covid"}. */
  labelMap?: Record<string, string>;
  /** Where to write evaluation.json / evaluation.md; defaults to `<run>/evaluation/<split>`. */
  outDir?: string;
}

/** An image left out of an evaluation or a CAM grid because it could not be read: its file, the error code and why. */
export interface ExcludedImage {
  file: string;
  code: string;
  reason: string;
}

export interface EvaluateResult extends EvaluationMetrics {
  run: string;
  data: string;
  split: string;
  predictions: EvaluatedImage[];
  files: { json: string; markdown: string };
  /** With a label map: the model's own classes (`classes` are then the mapped ones). */
  modelClasses?: string[];
  labelMap?: Record<string, string>;
  /** Percentile bootstrap intervals (test images resampled) for macro F1, macro AUC and each class's AUC (class order). */
  bootstrap?: { macroF1: BootstrapInterval; macroAuc: BootstrapInterval | null; perClassAuc?: (BootstrapInterval | null)[] };
  /** One-vs-rest ROC and precision-recall curves per class (class order). */
  curves?: ClassCurve[];
  /**
   * The same metrics without the test images that have an exact or near-duplicate in the training split (from the
   * dataset audit). null when that could not be checked (other data than the run was trained on).
   */
  withoutTrainDuplicates?: { excluded: string[]; metrics: SubsetMetrics | null } | null;
  /** Images of the split that could not be read (damaged, unsupported, too large, not a file): not in any metric. */
  unreadable?: ExcludedImage[];
  /** Patient-level metrics (mean probability over a patient's images) when the data has patient IDs. */
  patientLevel?: (SubsetMetrics & { patients: number }) | null;
  /** Calibration on these images: raw, and after the run's temperature scaling. */
  calibration?: { temperature: number | null; raw: CalibrationReport; calibrated: CalibrationReport | null };
}

/** "Positive when the class probability >= threshold": the true and false positives at one distinct score. */
export interface CurvePoint {
  threshold: number;
  tp: number;
  fp: number;
}

/**
 * A class's one-vs-rest curves as counts: ROC is (fp / negatives, tp / positives) from (0, 0), precision-recall is
 * (tp / positives, tp / (tp + fp)) from (0, 1). `auc` is the ROC area (trapezoids, equal to the Mann-Whitney
 * statistic; null without positives or without negatives), `averagePrecision` scikit-learn's average precision (null
 * without positives).
 */
export interface ClassCurve {
  className: string;
  positives: number;
  negatives: number;
  /** One per distinct score, highest threshold first. */
  points: CurvePoint[];
  auc: number | null;
  averagePrecision: number | null;
}

export interface SubsetMetrics {
  n: number;
  accuracy: number;
  accuracy_ci: Interval;
  balanced_accuracy: number;
  macro_f1: number;
  macro_auc: number | null;
}

export interface BootstrapInterval {
  low: number;
  high: number;
  level: number;
  method: 'bootstrap-percentile';
  resamples: number;
}

export interface ReliabilityBin {
  /** Range of the top-class probability. */
  low: number;
  high: number;
  count: number;
  confidence: number | null;
  accuracy: number | null;
}

/** Expected calibration error, negative log-likelihood and the reliability diagram's bins. */
export interface CalibrationReport {
  n: number;
  ece: number;
  nll: number;
  bins: ReliabilityBin[];
}

export interface PredictRequest {
  /** A run folder; or, for raw pretrained with-top weights, backbone + weights + labels. */
  run?: string;
  backbone?: BackboneId;
  weights?: string;
  labels?: string;
  files: string[];
  topK?: number;
  /** Calibrated top probability below this gives status 'uncertain'. Defaults to the run's (0.6). */
  abstainBelow?: number;
  /** Report OOD flags but do not refuse (the user overrides the check). */
  ignoreOod?: boolean;
}

export interface ExplainRequest {
  run: string;
  image: string;
  method?: CamMethodName;
  /** Target class name; defaults to the predicted class. */
  className?: string;
  /** Write the overlay PNG here. */
  out?: string;
  alpha?: number;
  /** Include the overlay PNG as base64 in the result (for webviews). */
  includePng?: boolean;
  /** Render the overlay PNG at the image's own size (up to 4096 px a side) instead of the model's input size. */
  overlayAtImageSize?: boolean;
}

export interface ExplainResult {
  file: string;
  method: CamMethodName;
  predicted: string;
  target: string;
  probabilities: Record<string, number>;
  /** Heatmap at the feature-map resolution, normalised to [0, 1], row-major. */
  heatmap: { width: number; height: number; data: number[] };
  overlayPath?: string;
  overlayPngBase64?: string;
  /** Which engine ran the forward pass ('tfjs' also where Grad-CAM needed gradients). */
  engine?: 'onnxruntime' | 'tfjs';
  /**
   * Pooling + Dense heads: every class's map for both methods, from the same pass, laid out like `heatmap`, so a
   * viewer switches class or method without another request. Absent for other heads.
   */
  maps?: { className: string; cam: number[]; gradcam: number[] }[];
  /** Run models: is the input outside what the model knows? (the same verdict `cxr predict` gives) */
  ood?: OodVerdict;
  /** Run models: 'refused', 'uncertain' or 'confident', as in predictions; a refused image's maps are for inspection only. */
  status?: PredictionStatus;
  /** Probabilities after the run's temperature scaling (the raw ones without a fitted temperature). */
  calibratedProbabilities?: Record<string, number>;
  /** The calibrated top probability below which the status is 'uncertain'. */
  abstainBelow?: number;
}

export type AuditSeverity = 'info' | 'warning' | 'critical';
export type AuditFindingKind =
  | 'near-duplicate'
  | 'label-conflict'
  | 'source-confound'
  | 'patient-overlap'
  | 'class-balance'
  | 'label-variant'
  | 'unreadable-image'
  | 'loader-warning';

/** One thing the dataset audit found, in plain words, with the data behind it. */
export interface AuditFinding {
  kind: AuditFindingKind;
  severity: AuditSeverity;
  message: string;
  details: Record<string, unknown>;
}

export interface AuditRequest {
  /** Dataset root or CSV manifest. */
  data: string;
  seed?: number;
}

export interface AuditDuplicatePair {
  a: { file: string; label: string; split: string };
  b: { file: string; label: string; split: string };
  /** Byte-identical files. */
  exact: boolean;
  /** Perceptual-hash distance in bits (of 64). */
  distance: number;
  /** Pearson correlation of the 32 x 32 grey thumbnails. */
  correlation: number;
}

/** Exact totals behind the capped lists of an audit (the lists name at most a hundred pairs each). */
export interface AuditDuplicateTotals {
  /** Every pair of files that are byte-identical or near-duplicates. */
  pairs: number;
  exactPairs: number;
  nearPairs: number;
  trainTestPairs: number;
  withinSplitPairs: number;
  /** Pairs whose two files carry different labels. */
  labelConflictPairs: number;
  /** Pairs listed in `duplicates`. */
  listedPairs: number;
  /** Sets of two or more byte-identical files, and the files in them. */
  identicalGroups: number;
  filesInIdenticalGroups: number;
  /** Pairs of distinct contents within the near-duplicate thresholds (each stands for |A| x |B| file pairs). */
  nearDuplicateLinks: number;
}

/** One set of byte-identical files: its size, its first files, and how many more. */
export interface AuditDuplicateGroup {
  count: number;
  files: { file: string; label: string; split: string }[];
  more: number;
  labels: string[];
  /** Files per split. */
  splits: Record<string, number>;
}

export interface AuditResult {
  data: string;
  classes: string[];
  images: number;
  counts: Record<string, { train: number; test: number; unassigned: number }>;
  /** Sorted by severity, most severe first. */
  findings: AuditFinding[];
  /** At most a hundred pairs, those across train and test first; `duplicateTotals` counts them all. */
  duplicates: AuditDuplicatePair[];
  /** Absent in audits saved before the lists were capped. */
  duplicateTotals?: AuditDuplicateTotals;
  /** The largest sets of byte-identical files (at most 50). */
  duplicateGroups?: AuditDuplicateGroup[];
  /** Test images with an exact or near-duplicate in the train split. */
  testFilesWithTrainDuplicate: string[];
  confound: {
    n: number;
    folds: number;
    accuracy: number;
    accuracyCi: Interval;
    majorityRate: number;
    chanceRate: number;
    strongestFeatures: { feature: string; accuracy: number }[];
  } | null;
  thresholds: { hashMaxDistance: number; minCorrelation: number };
  seconds: number;
  /** Images whose record came from the disk cache (same bytes seen before) and images decoded this time. */
  probes?: { fromCache: number; decoded: number };
}

/** A dataset's latest stored audit (server/src/engine/audit/lastAudit.ts). */
export interface LastAuditResult {
  /** ISO 8601. */
  auditedAt: string;
  /** The dataset's file list (paths, labels, splits) differs from the audited one. */
  changedSince: boolean;
  result: AuditResult;
}

/** The feature cache (`cxr cache info|clear`): where it is, and what it holds. */
export interface CacheInfo {
  dir: string;
  /** Frozen outputs, audit records and stored maps together. */
  entries: number;
  bytes: number;
  /** Of the entries, the dataset audit's per-image records. */
  auditRecords: number;
  /** Of the entries, the predictions and class maps an evaluation stored (mapCache.ts). */
  mapRecords: number;
}

/** `cxr export`: a trained run as a standalone model. */
export interface ExportRequest {
  run: string;
  format: 'onnx' | 'tfjs';
  /** The .onnx file, or the folder for tfjs; default `<run>/export/model.onnx` or `<run>/export/tfjs`. */
  out?: string;
}

export interface ExportResult {
  format: 'onnx' | 'tfjs';
  path: string;
  classes: string[];
  /** What the model takes: NHWC float32 RGB in [0, 1] at the run's size (the backbone's scaling is inside). */
  input: { name: string; shape: (number | null)[]; range: string };
  outputName: string;
  output: string;
  /** The run's model card written beside the exported model (Markdown). */
  modelCard: string;
}

/** One shortcut audit of a trained model, with its plain-language reading. */
export interface ShortcutCheck {
  name: string;
  /** The headline number (an accuracy, a share, a correlation). */
  value: number | null;
  details: Record<string, unknown>;
  /** One plain sentence on what the number means. */
  sentence: string;
}

export interface ShortcutAuditRequest {
  run: string;
  data: string;
  split?: SplitName | 'all';
  /** At most this many images (the heatmap checks cost one backward pass each). */
  limit?: number;
}

export interface ShortcutAuditResult {
  run: string;
  data: string;
  split: string;
  n: number;
  checks: ShortcutCheck[];
}

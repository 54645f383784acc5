/**
 * The JSON-RPC contract between the CXR Studio client (extension host), the backend process and the webviews.
 * Every custom request and notification is declared here, once, with its parameter and result types; handlers and
 * callers import these constants instead of spelling method names. No 'vscode' import: webviews and the server use
 * this file too.
 */
import { NotificationType, ProgressType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { ProgressToken } from 'vscode-jsonrpc';
import type {
  AuditRequest,
  AuditResult,
  AugmentParams,
  BackboneId,
  BackendName,
  BackendReport,
  CacheInfo,
  OnnxRuntimeReport,
  EvaluateRequest,
  EvaluateResult,
  ExplainRequest,
  ExplainResult,
  ExportRequest,
  ExportResult,
  ImagePrediction,
  LastAuditResult,
  PredictRequest,
  RunDetails,
  RunMetaUpdate,
  RunSummary,
  ShortcutAuditRequest,
  ShortcutAuditResult,
  TrainEvent,
  TrainRequest,
  TrainResult,
} from '../../server/src/engine/api';
import type { CxrErrorCode } from '../../server/src/engine/errors';
import type { BatchNormMode, EngineBackendSetting } from '../../server/src/engine/names';

export type * from '../../server/src/engine/api';
export type { CxrErrorCode } from '../../server/src/engine/errors';
export * from '../../server/src/engine/names';

/** Bumped whenever a request, notification or shape below changes incompatibly. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------------------------
// Errors: every failed cxr/ request answers a JSON-RPC error whose `data` is a CxrErrorData.

export interface CxrErrorData {
  code: CxrErrorCode;
  details?: Record<string, unknown>;
}

/**
 * The JSON-RPC numeric code sent with each CxrErrorCode. Clients should branch on `data.code`; the numeric code only
 * keeps generic JSON-RPC tooling honest (invalid params, internal error, cancelled).
 */
export const JSON_RPC_ERROR_CODES: Readonly<Record<CxrErrorCode, number>> = {
  INVALID_ARGUMENT: -32602, // JSON-RPC InvalidParams
  INTERNAL: -32603, // JSON-RPC InternalError
  CANCELLED: -32800, // LSP RequestCancelled
  NOT_FOUND: -32001,
  OUTSIDE_ALLOWED_ROOTS: -32002,
  UNSUPPORTED_FORMAT: -32003,
  CORRUPT_IMAGE: -32004,
  IMAGE_TOO_LARGE: -32005,
  DATASET_INVALID: -32006,
  WEIGHTS_INVALID: -32007,
  MODEL_INVALID: -32008,
  RUN_INVALID: -32009,
  BUSY: -32010,
  BACKEND_UNAVAILABLE: -32011,
  NOT_A_FILE: -32012,
  OUTPUT_INVALID: -32013,
  STORAGE_FAILED: -32014,
  NON_FINITE: -32015,
};

const ERROR_CODES = new Set<string>(Object.keys(JSON_RPC_ERROR_CODES));

/** The CxrErrorData carried by a JSON-RPC error (a ResponseError or its `data`), or undefined for other errors. */
export function cxrErrorData(error: unknown): CxrErrorData | undefined {
  const data = typeof error === 'object' && error !== null && 'data' in error ? (error as { data: unknown }).data : error;
  if (typeof data !== 'object' || data === null) return undefined;
  const code = (data as { code?: unknown }).code;
  return typeof code === 'string' && ERROR_CODES.has(code) ? (data as CxrErrorData) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Session set-up

/** `initializationOptions` of the LSP initialize request. */
export interface InitializationOptions {
  /** Same meaning as cxr/setAllowedRoots; may be replaced later by that request. */
  allowedRoots?: string[];
  /** Whether the workspace is trusted. Absent means untrusted: training stays disabled until cxr/setTrust. */
  trusted?: boolean;
  /** The cxr.engineBackend setting. */
  engineBackend?: EngineBackendSetting;
}

export interface SetAllowedRootsParams {
  /** Absolute folders: workspace folders, cxr.dataRoots, the runs directory, the models directory. */
  roots: string[];
}

export interface SetAllowedRootsResult {
  /** The roots now in force, symlinks resolved (roots that do not exist yet are kept as given). */
  roots: string[];
}

/** Replaces the set of folders any request may name. A path outside them fails with OUTSIDE_ALLOWED_ROOTS. */
export const setAllowedRoots = new RequestType<SetAllowedRootsParams, SetAllowedRootsResult, CxrErrorData>('cxr/setAllowedRoots');

export interface SetTrustParams {
  trusted: boolean;
}

/** Untrusted workspaces may browse, evaluate and explain, but cxr/train is refused. */
export const setTrust = new RequestType<SetTrustParams, null, CxrErrorData>('cxr/setTrust');

// ---------------------------------------------------------------------------------------------------------------
// Status

export interface ActiveTraining {
  runDir: string;
  /** Epoch being trained (1-based); 0 while images are decoded and features computed. */
  epoch: number;
  epochs: number;
}

export interface BackendStatus {
  /** The engine backend of the backend process's main thread (training workers choose the same way). */
  backend: BackendReport;
  /** ONNX Runtime and its execution providers (inference), with why each is or is not used. */
  onnxRuntime?: OnnxRuntimeReport;
  busy: boolean;
  activeTraining: ActiveTraining | null;
  /** The extension/server package version. */
  version: string;
  protocolVersion: number;
  trusted: boolean;
  allowedRoots: string[];
  /** Each backbone's ImageNet (no-top) weights as training would find them; file null: it would train from random weights. */
  weights: BackboneWeightsStatus[];
  /** Diagnostics: heavy requests (evaluate, predict, explain, audits) running and waiting their turn, and the cap. */
  heavyRequests?: { active: number; queued: number; limit: number };
  /** Diagnostics: tfjs tensors alive in the main thread; steady between requests (the leak tests watch it). */
  tensors?: number;
}

export interface BackboneWeightsStatus {
  backbone: BackboneId;
  file: string | null;
  /** Whether "Get Backbone Weights" can download the file (Keras publishes a hash for it). */
  downloadable: boolean;
}

export interface DownloadWeightsParams {
  backbone: BackboneId;
}

/**
 * Downloads a backbone's no-top ImageNet weights from the Keras Applications address into the user's models folder,
 * checking Keras's published md5 (WEIGHTS_INVALID on a mismatch, nothing saved). NOT_FOUND for backbones without a
 * published hash, or when the download fails.
 */
export const downloadWeights = new RequestType<DownloadWeightsParams, { file: string }, CxrErrorData>('cxr/downloadWeights');

export const backendStatus = new RequestType0<BackendStatus, CxrErrorData>('cxr/backendStatus');

// ---------------------------------------------------------------------------------------------------------------
// Training

/**
 * Progress: leave `workDoneToken` out and the server creates its own cancellable work-done progress (VS Code shows it
 * as a notification with a Cancel button). With a token, the server reports on it (listen with
 * `onProgress(workDoneProgress, token, ...)`) and a `window/workDoneProgress/cancel` for it cancels training.
 * Cancelling the request itself ($/cancelRequest) or cxr/cancelTraining cancel too. A cancelled training still
 * answers a TrainResult with status 'cancelled' (the best model so far is kept).
 */
export type TrainParams = (TrainRequest | ResumeTrainRequest) & { workDoneToken?: ProgressToken };

/** Resuming needs only the run folder: data, backbone and hyper-parameters come from its config.json. */
export type ResumeTrainRequest = Partial<TrainRequest> & { out: string; resume: true };

/**
 * Fails with BUSY while another training runs, and in untrusted workspaces with INVALID_ARGUMENT whose details are
 * `{untrustedWorkspace: true}`.
 */
export const train = new RequestType<TrainParams, TrainResult, CxrErrorData>('cxr/train');

export interface TrainEventParams {
  /** The run folder as the train request named it (absolute, normalised). */
  runDir: string;
  event: TrainEvent;
}

/** Sent for every engine event of the active training, as it happens. */
export const trainEvent = new NotificationType<TrainEventParams>('cxr/trainEvent');

export interface CancelTrainingParams {
  /** Only cancel if the active training writes this run folder; absent cancels whatever trains. */
  runDir?: string;
}

export interface CancelTrainingResult {
  /** false when nothing (or a different run) was training. */
  cancelled: boolean;
}

/** Stops the active training between batches; its cxr/train request then answers status 'cancelled'. */
export const cancelTraining = new RequestType<CancelTrainingParams, CancelTrainingResult, CxrErrorData>('cxr/cancelTraining');

/** LSP work-done progress values, as sent on the train request's progress token. */
export type WorkDoneProgressValue =
  | { kind: 'begin'; title: string; cancellable?: boolean; message?: string; percentage?: number }
  | { kind: 'report'; cancellable?: boolean; message?: string; percentage?: number }
  | { kind: 'end'; message?: string };

export const workDoneProgress = new ProgressType<WorkDoneProgressValue>();

// ---------------------------------------------------------------------------------------------------------------
// Models and runs

export const evaluate = new RequestType<EvaluateRequest, EvaluateResult, CxrErrorData>('cxr/evaluate');

export const predict = new RequestType<PredictRequest, ImagePrediction[], CxrErrorData>('cxr/predict');

/** Set `includePng` to receive the overlay as base64 (webviews cannot read files). */
export const explain = new RequestType<ExplainRequest, ExplainResult, CxrErrorData>('cxr/explain');

/** Writes a run's model as ONNX or TF.js ([0,1] RGB NHWC in, probabilities in class order out). */
export const exportModel = new RequestType<ExportRequest, ExportResult, CxrErrorData>('cxr/exportModel');

/** The feature cache of frozen outputs: where, how many, how large; and emptying it. Params: {}. */
export const cacheInfo = new RequestType<Record<string, never>, CacheInfo, CxrErrorData>('cxr/cacheInfo');
export const clearCache = new RequestType<Record<string, never>, CacheInfo, CxrErrorData>('cxr/clearCache');

export interface ListRunsParams {
  runsRoot: string;
}

/** The run folders directly inside `runsRoot`, newest first; an absent folder lists as empty. */
export const listRuns = new RequestType<ListRunsParams, RunSummary[], CxrErrorData>('cxr/listRuns');

export interface DeleteRunParams {
  runDir: string;
}

export interface RunDetailsParams {
  runDir: string;
}

/** Config, status, per-epoch history and saved evaluations of one run, read by the engine's run store. */
export const runDetails = new RequestType<RunDetailsParams, RunDetails, CxrErrorData>('cxr/runDetails');

export interface ReadEvaluationParams {
  runDir: string;
  /** The split folder under `<run>/evaluation/` (test, val, train, all). */
  split: string;
}

/** A run's saved evaluation with its predictions; NOT_FOUND when that split was never evaluated. */
export const readEvaluation = new RequestType<ReadEvaluationParams, EvaluateResult, CxrErrorData>('cxr/readEvaluation');

export interface DeleteRunResult {
  runDir: string;
  /** The run's entries that were removed (folders end in '/'). */
  removed: string[];
}

/**
 * Deletes a run folder; refused (BUSY) for the run being trained, and (RUN_INVALID, nothing deleted) for a folder
 * that is not verifiably a run: an allowed root, a folder without a run's config.json, or one holding other files.
 */
export const deleteRun = new RequestType<DeleteRunParams, DeleteRunResult, CxrErrorData>('cxr/deleteRun');

/**
 * Renames a run (its display name: the folder keeps its name), or changes its notes or tags, in the run's meta.json.
 * Fields left out keep their value; `displayName: null` (or '') goes back to the folder name. Answers the run's new
 * summary. INVALID_ARGUMENT (details.field names the field) for a name, note or tag the run store refuses.
 */
export const updateRunMeta = new RequestType<RunMetaUpdate, RunSummary, CxrErrorData>('cxr/updateRunMeta');

// ---------------------------------------------------------------------------------------------------------------
// Datasets

export interface ScanDatasetsParams {
  /** Folders to search: each root itself, its sub-folders (two levels deep) and the CSV manifests among them. */
  roots: string[];
}

export type DatasetSplitName = 'train' | 'test' | 'unassigned';

export interface DatasetSummary {
  /** The dataset folder or CSV manifest. */
  path: string;
  source: 'folders' | 'csv';
  classes: string[];
  /**
   * Image count per split, then per class name. 'unassigned' holds CSV rows without a split (training carves its
   * validation set from train + unassigned). Splits the dataset does not have are absent.
   */
  counts: Partial<Record<DatasetSplitName, Record<string, number>>>;
  total: number;
}

export const scanDatasets = new RequestType<ScanDatasetsParams, DatasetSummary[], CxrErrorData>('cxr/scanDatasets');

export interface DatasetImagesParams {
  /** A dataset folder or CSV manifest, as cxr/scanDatasets lists it. */
  dataset: string;
  className?: string;
  split?: DatasetSplitName;
}

export interface DatasetImage {
  file: string;
  label: string;
  split: DatasetSplitName;
}

/** The images of a dataset (folders or CSV), sorted by split then path; files outside the allowed roots are left out. */
export const datasetImages = new RequestType<DatasetImagesParams, DatasetImage[], CxrErrorData>('cxr/datasetImages');

// ---------------------------------------------------------------------------------------------------------------
// Dataset audit

export interface AuditResponse extends AuditResult {
  /** The audit as Markdown (findings, duplicate pairs with thumbnails as file URLs, probe numbers), for a preview. */
  markdown: string;
}

/** Audits a dataset: duplicates within and across splits, the source-confound probe, patients, balance, loader warnings. */
export const auditDataset = new RequestType<AuditRequest, AuditResponse, CxrErrorData>('cxr/auditDataset');

export interface LastAuditParams {
  /** Dataset root or CSV manifest. */
  data: string;
}

/** The dataset's latest audit from this or an earlier session (stored by the engine), or null if it was never audited. */
export const lastAudit = new RequestType<LastAuditParams, LastAuditResult | null, CxrErrorData>('cxr/lastAudit');

export interface ModelCardParams {
  run: string;
}

export interface ModelCardResult {
  /** MODEL_CARD.md in the run folder, just (re)written. */
  file: string;
  markdown: string;
}

/**
 * Shortcut audits of a trained run on a split: accuracy with the lung field hidden and with only the border kept, the
 * share of heatmap energy inside the lung field, and the head weight-randomisation check. Saved in the run folder
 * (shortcuts.json) and in its model card.
 */
export const shortcutAudit = new RequestType<ShortcutAuditRequest, ShortcutAuditResult, CxrErrorData>('cxr/shortcutAudit');

/** Writes the run's model card from its folder (config, audit, evaluation, calibration, OOD, shortcut audits). */
export const modelCard = new RequestType<ModelCardParams, ModelCardResult, CxrErrorData>('cxr/modelCard');

// ---------------------------------------------------------------------------------------------------------------
// Training form and image views

/** One backbone as the training form offers it: its recipe's defaults, where it can be frozen, its weights. */
export interface BackboneTrainingOptions {
  backbone: BackboneId;
  label: string;
  recipe: { epochs: number; batchSize: number; learningRate: number; momentum: number; augment: AugmentParams | null };
  /** The recipe's freeze point, one of `freezePoints`. */
  defaultFreezeAt: string;
  /** Layers the model can be cut at (block boundaries), in model order. */
  freezePoints: string[];
  imageSize: number;
  /** The ImageNet (no-top) weights a training would load by default; null: random initialisation. */
  weights: string | null;
  /** The augmentation "on" means for this backbone (its recipe's, or the method's). */
  augmentWhenOn: AugmentParams;
}

export interface TrainingOptions {
  backbones: BackboneTrainingOptions[];
  valFraction: number;
  seed: number;
  batchNorm: BatchNormMode;
}

/** Every backbone's training defaults and freeze points, for the training form. Params: {}. */
export const trainingOptions = new RequestType<Record<string, never>, TrainingOptions, CxrErrorData>('cxr/trainingOptions');

export interface ThumbnailsParams {
  files: string[];
  /** Edge in pixels (16-256); default 96. */
  size?: number;
}

export interface Thumbnail {
  file: string;
  /** A small JPEG as a data: URL, or null when the file could not be decoded (then `error` says why). */
  dataUrl: string | null;
  error?: string;
}

/** Small JPEGs of images (at most 200 per request) made by the backend, so webviews never load full images. */
export const thumbnails = new RequestType<ThumbnailsParams, Thumbnail[], CxrErrorData>('cxr/thumbnails');

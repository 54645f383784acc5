import * as path from 'node:path';
import type { CancelTrainingParams, DatasetSplitName } from '../../../common/src/protocol';
import type {
  AuditRequest,
  ExportRequest,
  AugmentParams,
  BackboneId,
  EvaluateRequest,
  ExplainRequest,
  PredictRequest,
  RunMetaUpdate,
  ShortcutAuditRequest,
  SplitName,
  TrainRequest,
} from '../engine/api';
import { CxrError } from '../engine/errors';
import { readRunConfig } from '../engine/runStore';
import { BACKBONE_IDS, BATCH_NORM_MODES, CAM_METHODS, EXPORT_FORMATS, SPLIT_NAMES } from '../engine/names';
import { Params } from './params';
import type { PathGuard } from './pathGuard';

/**
 * Parsing of each request's params: shapes are checked (INVALID_ARGUMENT) and every path goes through the guard
 * (OUTSIDE_ALLOWED_ROOTS) before anything reaches the engine. Only known fields are passed on.
 */

const BACKBONES: readonly BackboneId[] = BACKBONE_IDS;
const SPLITS: readonly (SplitName | 'all')[] = [...SPLIT_NAMES, 'all'];
const DATASET_SPLITS: readonly DatasetSplitName[] = ['train', 'test', 'unassigned'];

export function parseTrain(params: unknown, guard: PathGuard): TrainRequest {
  const p = Params.of('cxr/train', params);
  const out = guard.check(p.string('out'), 'run folder');
  const resume = p.optBoolean('resume');
  // Resuming needs only the run folder: data and backbone come from its config.json unless given.
  const saved = resume && !(p.has('data') && p.has('backbone')) ? readRunConfig(out, guard) : null;
  const req: TrainRequest = {
    data: guard.check(saved && !p.has('data') ? saved.data : p.string('data'), 'dataset'),
    out,
    backbone: saved && !p.has('backbone') ? saved.backbone : p.oneOf('backbone', BACKBONES),
    weights: guard.checkOptional(p.optString('weights'), 'weights file'),
    epochs: p.optInteger('epochs', 1),
    batchSize: p.optInteger('batchSize', 1),
    learningRate: p.optNumber('learningRate'),
    momentum: p.optNumber('momentum'),
    seed: p.optInteger('seed', 0),
    valFraction: p.optNumber('valFraction'),
    freezeAt: p.optString('freezeAt'),
    batchNorm: p.optOneOf('batchNorm', BATCH_NORM_MODES),
    augment: parseAugment(p),
    imageSize: p.optInteger('imageSize', 32),
    resume,
  };
  return dropUndefined(req);
}

function parseAugment(p: Params): boolean | AugmentParams | undefined {
  if (!p.has('augment')) return undefined;
  if (typeof p.raw('augment') === 'boolean') return p.boolean('augment');
  const a = p.object('augment');
  const field = (name: keyof AugmentParams): number => {
    const v = a.optNumber(name);
    if (v === undefined || v < 0) throw a.invalid(name, 'a number >= 0');
    return v;
  };
  return { rotationDeg: field('rotationDeg'), widthShift: field('widthShift'), heightShift: field('heightShift'), zoom: field('zoom') };
}

export function parseEvaluate(params: unknown, guard: PathGuard): EvaluateRequest {
  const p = Params.of('cxr/evaluate', params);
  return dropUndefined({
    run: guard.check(p.string('run'), 'run folder'),
    data: guard.check(p.string('data'), 'dataset'),
    split: p.optOneOf('split', SPLITS),
    outDir: guard.checkOptional(p.optString('outDir'), 'output folder'),
    labelMap: parseLabelMapParam(p),
  });
}

function parseLabelMapParam(p: Params): Record<string, string> | undefined {
  if (!p.has('labelMap')) return undefined;
  const raw = p.raw('labelMap');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string' && v !== '')) {
    throw p.invalid('labelMap', 'an object mapping class names to target names, e.g. {"Normal": "not-Covid"}');
  }
  return { ...(raw as Record<string, string>) };
}

export function parsePredict(params: unknown, guard: PathGuard): PredictRequest {
  const p = Params.of('cxr/predict', params);
  const files = p.stringArray('files').map((f) => guard.check(f, 'image'));
  if (files.length === 0) throw p.invalid('files', 'a non-empty array of image paths');
  const req: PredictRequest = {
    run: guard.checkOptional(p.optString('run'), 'run folder'),
    backbone: p.optOneOf('backbone', BACKBONES),
    weights: guard.checkOptional(p.optString('weights'), 'weights file'),
    labels: guard.checkOptional(p.optString('labels'), 'labels file'),
    files,
    topK: p.optInteger('topK', 1),
    abstainBelow: p.optNumber('abstainBelow'),
    ignoreOod: p.optBoolean('ignoreOod'),
  };
  if (!req.run && !(req.backbone && req.weights && req.labels)) {
    throw new CxrError('INVALID_ARGUMENT', "cxr/predict needs 'run', or 'backbone', 'weights' and 'labels' together.", { field: 'run' });
  }
  return dropUndefined(req);
}

export function parseExplain(params: unknown, guard: PathGuard): ExplainRequest {
  const p = Params.of('cxr/explain', params);
  const alpha = p.optNumber('alpha');
  if (alpha !== undefined && (alpha < 0 || alpha > 1)) throw p.invalid('alpha', 'a number between 0 and 1');
  return dropUndefined({
    run: guard.check(p.string('run'), 'run folder'),
    image: guard.check(p.string('image'), 'image'),
    method: p.optOneOf('method', CAM_METHODS),
    className: p.optString('className'),
    out: guard.checkOptional(p.optString('out'), 'output file'),
    alpha,
    includePng: p.optBoolean('includePng'),
    overlayAtImageSize: p.optBoolean('overlayAtImageSize'),
  });
}

export function parseExport(params: unknown, guard: PathGuard): ExportRequest {
  const p = Params.of('cxr/exportModel', params);
  return dropUndefined({
    run: guard.check(p.string('run'), 'run folder'),
    format: p.oneOf('format', EXPORT_FORMATS),
    out: guard.checkOptional(p.optString('out'), 'output file'),
  });
}

export function parseAudit(params: unknown, guard: PathGuard): AuditRequest {
  const p = Params.of('cxr/auditDataset', params);
  return dropUndefined({ data: guard.check(p.string('data'), 'dataset'), seed: p.optInteger('seed', 0) });
}

export function parseLastAudit(params: unknown, guard: PathGuard): string {
  return guard.check(Params.of('cxr/lastAudit', params).string('data'), 'dataset');
}

export function parseShortcutAudit(params: unknown, guard: PathGuard): ShortcutAuditRequest {
  const p = Params.of('cxr/shortcutAudit', params);
  return dropUndefined({
    run: guard.check(p.string('run'), 'run folder'),
    data: guard.check(p.string('data'), 'dataset'),
    split: p.optOneOf('split', SPLITS),
    limit: p.optInteger('limit', 1),
  });
}

export function parseRunsRoot(params: unknown, guard: PathGuard): string {
  return guard.check(Params.of('cxr/listRuns', params).string('runsRoot'), 'runs folder');
}

export function parseRunDir(params: unknown, guard: PathGuard): string {
  return guard.check(Params.of('cxr/deleteRun', params).string('runDir'), 'run folder');
}

export function parseRunDetails(params: unknown, guard: PathGuard): string {
  return guard.check(Params.of('cxr/runDetails', params).string('runDir'), 'run folder');
}

/** Only the shapes are checked here; what a valid name, note or tag is, the run store decides (runMeta.ts). */
export function parseUpdateRunMeta(params: unknown, guard: PathGuard): RunMetaUpdate {
  const p = Params.of('cxr/updateRunMeta', params);
  const update: RunMetaUpdate = { runDir: guard.check(p.string('runDir'), 'run folder') };
  if (p.raw('displayName') === null) update.displayName = null;
  else if (p.raw('displayName') !== undefined) {
    if (typeof p.raw('displayName') !== 'string') throw p.invalid('displayName', 'a string, or null for the folder name');
    update.displayName = p.raw('displayName') as string;
  }
  if (p.has('notes')) {
    if (typeof p.raw('notes') !== 'string') throw p.invalid('notes', 'a string');
    update.notes = p.raw('notes') as string;
  }
  if (p.has('tags')) {
    const tags = p.raw('tags');
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw p.invalid('tags', 'an array of strings');
    update.tags = tags as string[];
  }
  if (update.displayName === undefined && update.notes === undefined && update.tags === undefined) {
    throw new CxrError('INVALID_ARGUMENT', "cxr/updateRunMeta needs at least one of 'displayName', 'notes' or 'tags'.", { field: 'displayName' });
  }
  return update;
}

export function parseReadEvaluation(params: unknown, guard: PathGuard): { runDir: string; split: string } {
  const p = Params.of('cxr/readEvaluation', params);
  return { runDir: guard.check(p.string('runDir'), 'run folder'), split: p.string('split') };
}

export function parseDatasetImages(params: unknown, guard: PathGuard): { dataset: string; className?: string; split?: DatasetSplitName } {
  const p = Params.of('cxr/datasetImages', params);
  return dropUndefined({
    dataset: guard.check(p.string('dataset'), 'dataset'),
    className: p.optString('className'),
    split: p.optOneOf('split', DATASET_SPLITS),
  });
}

export function parseBackbone(params: unknown): BackboneId {
  return Params.of('cxr/downloadWeights', params).oneOf('backbone', BACKBONES);
}

export function parseScanRoots(params: unknown, guard: PathGuard): string[] {
  return Params.of('cxr/scanDatasets', params).stringArray('roots').map((r) => guard.check(r, 'folder to scan'));
}

export function parseAllowedRoots(params: unknown): string[] {
  return Params.of('cxr/setAllowedRoots', params).stringArray('roots');
}

export function parseTrust(params: unknown): boolean {
  return Params.of('cxr/setTrust', params).boolean('trusted');
}

export function parseCancelTraining(params: unknown): CancelTrainingParams {
  if (params === undefined || params === null) return {};
  const runDir = Params.of('cxr/cancelTraining', params).optString('runDir');
  return runDir === undefined ? {} : { runDir: path.resolve(runDir) };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

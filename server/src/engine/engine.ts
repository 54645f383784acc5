import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type {
  AuditRequest,
  ShortcutAuditRequest,
  ShortcutAuditResult,
  AuditResult,
  LastAuditResult,
  BackendName,
  BackendReport,
  CacheInfo,
  CamMethodName,
  EvaluateRequest,
  EvaluateResult,
  EvaluatedImage,
  ExcludedImage,
  ExplainRequest,
  ExplainResult,
  ExportRequest,
  ExportResult,
  ImagePrediction,
  PredictRequest,
  RunConfig,
  TrainEvent,
  TrainRequest,
  TrainResult,
} from './api';
import { auditDataset } from './audit/auditDataset';
import { LastAudits } from './audit/lastAudit';
import { auditTrainingWarnings } from './audit/trainingAudit';
import { shortcutAudit } from './audit/shortcutAudit';
import { deviceFailureReason, onGpuPath } from './backend/deviceFailure';
import { fallBackToCpu, initBackend } from './backend/select';
import { writeModelCard } from './card/modelCard';
import { writeExportedModelCard } from './card/exportedCard';
import { applyTemperature } from './calibration/temperature';
import { classifyWithFeatures } from './ood/classifyWithFeatures';
import { storedPooledFeatures } from './ood/pooledFeatures';
import { DEFAULT_ABSTAIN_BELOW, fitTrustModels } from './ood/fitTrustModels';
import { readCalibration, readOodModel } from './ood/trustFiles';
import { oodVerdict, predictionStatus } from './ood/verdict';
import { checkChestRadiograph } from './ood/chestCheck';
import { readTrustModels, trustFields, type TrustFields } from './ood/explainTrust';
import { loadDataset, type DatasetItem } from './data/dataset';
import { decodeImage, MAX_OUTPUT_SIZE, type DecodedImage } from './data/decode';
import { splitTrainVal } from './data/split';
import { CxrError, toCxrError } from './errors';
import { computeMetrics } from './eval/metrics';
import { applyLabelMap } from './eval/labelMap';
import { renderEvaluationMarkdown } from './eval/report';
import { renderTrustMarkdown } from './eval/trustReport';
import { trustEvaluation } from './eval/trustEvaluation';
import { classCurves } from './eval/curves';
import { createCam, type CamMethod, type CamOutput } from './explain/cam';
import { renderCamGrid, renderOverlayPng, renderOverlayPngRect, upsampleBilinear, type CamGridTile } from './explain/render';
import { camGridTilesBatched } from './explain/camGridTiles';
import { RunSession, type ClassMaps } from './inference/runSession';
import { gradientFreeEngine } from './onnx/runtime';
import { cacheInfo, clearCache } from './cache/featureCache';
import { MapCache, type StoredMaps } from './cache/mapCache';
import type * as tfl from '@tensorflow/tfjs-layers';
import { getBackbone } from './models/registry';
import { exportRun } from './inference/exportModel';
import { argMax } from './util/argMax';
import { classifyFiles, loadRunModel, modelMtime, probabilitiesRecord, type LoadedRun } from './inference/runModel';
import { loadLabels, loadPretrainedClassifier } from './inference/pretrainedClassifier';
import { evaluationDir, readRunConfig, recordAudit, recordShortcuts, recordTestAccuracy, trainedModelManifest } from './runStore';
import { UNRESTRICTED, type PathPolicy } from './security/pathPolicy';
import { RunFolder } from './train/runFolder';
import { train } from './train/trainer';
import { SKIPPABLE_DECODE_ERRORS } from './train/featureStream';
import { stackImages } from './train/tensors';
import { writeFileAtomic, writeJsonAtomic } from './util/atomic';

export interface EngineOptions {
  backend?: BackendName;
  log?: (msg: string) => void;
  /**
   * Which files the engine may read and write, the indirect ones included (CSV rows, symlinks inside datasets and
   * runs, a run's recorded dataset, manifest shards). The language server passes its allowed roots; default: any.
   */
  paths?: PathPolicy;
}

export interface CamGridResult {
  out: string;
  tiles: number;
  correct: number;
  /** Images left out because they could not be read. */
  unreadable: ExcludedImage[];
}

export interface CamGridRequest {
  run: string;
  data: string;
  split?: 'test' | 'val' | 'train' | 'all';
  out: string;
  method?: 'cam' | 'gradcam';
  limit?: number;
  columns?: number;
}

/**
 * The one engine both fronts (CLI, language server) drive. Plain data in and out; VS Code-free. Keeps the last
 * loaded run model so repeated predict/explain calls on the active model do not reload weights.
 */
export class Engine {
  private backend: BackendReport | null = null;
  private cached: LoadedRun | null = null;
  private session: RunSession | null = null;

  constructor(private readonly opts: EngineOptions = {}) {}

  private get paths(): PathPolicy {
    return this.opts.paths ?? UNRESTRICTED;
  }

  async init(): Promise<BackendReport> {
    if (this.backend != null) return this.backend;
    const report: BackendReport = { ...(await initBackend({ prefer: this.opts.backend })), gradientFree: gradientFreeEngine() };
    for (const warning of report.warnings) this.opts.log?.(`warning: ${warning}`);
    this.backend = report;
    return report;
  }

  async train(req: TrainRequest, onEvent: (e: TrainEvent) => void = () => {}, signal?: AbortSignal): Promise<TrainResult> {
    // The backend starts while the dataset audit runs (it needs none): its waits (npm, wasm) overlap the audit's.
    const ready = this.init();
    ready.catch(() => {}); // awaited below, after the audit
    if (this.cached && path.resolve(req.out) === this.cached.runDir) this.dropCache();
    const data = req.resume ? this.paths.check(readRunConfig(req.out, this.paths).data, 'dataset', "recorded in the run's config.json") : req.data;
    let audit: AuditResult | null = null;
    try {
      audit = await this.audit({ data, seed: req.seed }, (done, total) =>
        onEvent({ kind: 'phase', phase: 'preparing', message: `auditing the dataset`, done, total }), signal);
      onEvent({ kind: 'phase', phase: 'preparing', message: `Dataset audited: ${audit.images} images, ${audit.findings.length} findings` });
    } catch (e) {
      // Cancelled while auditing: the training below sees the aborted signal before its first epoch and ends as a
      // cancel in any later phase does (run folder marked cancelled, no model), not as a failed request.
      if (!(e instanceof CxrError && e.code === 'CANCELLED' && signal?.aborted)) throw e;
    }
    // The model is prepared after the audit, not beside it: both need this thread (the audit's measurements, the
    // model's weights and ONNX graph), and side by side neither finished sooner (cold reference job, 2 cores).
    await ready;
    const auditWarnings = audit ? auditTrainingWarnings(audit) : [];
    for (const message of auditWarnings) onEvent({ kind: 'warning', message });
    let trained = null as tfl.LayersModel | null; // set by the trainer's hand-over
    const result = await train(req, { onEvent, signal, paths: this.paths, adoptModel: (model) => (trained = model) });
    if (audit) recordAudit(result.runDir, audit, this.paths);
    if (result.status !== 'cancelled' && new RunFolder(result.runDir).hasModel()) {
      if (trained) this.adoptTrainedModel(result.runDir, trained);
      const loaded = await this.loadRun(result.runDir);
      await fitTrustModels(loaded, {
        onProgress: (done, total) => onEvent({ kind: 'phase', phase: 'finished', message: `fitting the out-of-distribution check and calibration`, done, total }),
        paths: this.paths,
        stored: storedPooledFeatures(loaded),
        session: () => this.openSession(result.runDir),
      });
      await writeModelCard(result.runDir, this.paths);
    }
    return { ...result, warnings: [...auditWarnings, ...result.warnings] };
  }

  /** Writes (or rewrites) the run's MODEL_CARD.md from what its folder holds. */
  async modelCard(run: string): Promise<{ file: string; markdown: string }> {
    const dir = this.paths.check(path.resolve(run), 'run folder');
    if (!fs.existsSync(dir)) throw new CxrError('NOT_FOUND', `Run folder not found: ${dir}`);
    return writeModelCard(dir, this.paths);
  }

  /** Audits a dataset (duplicates, source confound, patients, balance, loader warnings); no model needed. */
  async audit(req: AuditRequest, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<AuditResult> {
    const result = await auditDataset(req, { onProgress, signal, paths: this.paths });
    try {
      await new LastAudits(this.paths).save(result);
    } catch (e) {
      this.opts.log?.(`The audit of ${result.data} was not stored for later sessions: ${toCxrError(e).message}`);
    }
    return result;
  }

  /** The dataset's latest audit from this or an earlier session, or null if it was never audited. */
  async lastAudit(data: string): Promise<LastAuditResult | null> {
    return new LastAudits(this.paths).load(data);
  }

  /**
   * Shortcut audits of a trained run on a labelled split (lung field hidden, border only, heatmap energy in the lung
   * field, weight randomisation), saved as the run's shortcuts.json and shown in its model card.
   */
  shortcuts(req: ShortcutAuditRequest, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<ShortcutAuditResult> {
    return this.onDevice(async () => {
      await this.init();
      const session = await this.openSession(req.run);
      const loaded = session.loaded;
      const split = req.split ?? 'test';
      const items = await selectItems(loaded.config, req.data, split, this.paths);
      const result = await shortcutAudit(session, items.map((i) => i.path), items.map((i) => classIndexOf(loaded.config.classes, i.label)), {
        run: loaded.runDir,
        data: path.resolve(req.data),
        split,
        heatmapLimit: req.limit,
        onProgress,
        signal,
      });
      try {
        recordShortcuts(loaded.runDir, result, this.paths);
        await writeModelCard(loaded.runDir, this.paths);
      } catch (e) {
        if (!(e instanceof CxrError && e.code === 'STORAGE_FAILED')) throw e;
        this.opts.log?.(`Shortcut audits not saved in ${loaded.runDir}: ${e.message}`);
      }
      return result;
    });
  }

  evaluate(req: EvaluateRequest, onProgress?: (done: number, total: number) => void, signal?: AbortSignal): Promise<EvaluateResult> {
    return this.onDevice(() => this.evaluateOnce(req, onProgress, signal));
  }

  private async evaluateOnce(
    req: EvaluateRequest,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<EvaluateResult> {
    await this.init();
    const session = await this.openSession(req.run);
    const loaded = session.loaded;
    const split = req.split ?? 'test';
    const listed = await selectItems(loaded.config, req.data, split, this.paths, req.labelMap === undefined);
    // Each image's maps come with the pass: kept, a CAM grid or heatmap of these images needs no pass of its own.
    const maps = session.hasAllClassMaps ? await this.mapCache(loaded.runDir, loaded.config.imageSize) : null;
    const stores: Promise<void>[] = [];
    const keep = maps
      ? (file: string, m: StoredMaps): void => {
          stores.push(maps.keyOf(file).then((key) => maps.put(key, m)).catch(() => {}));
        }
      : undefined;
    // One unreadable image does not void the others: it is left out, and named in the result and the report.
    const classified = await session.classifyReadable(listed.map((i) => i.path), onProgress, signal, keep);
    await Promise.all(stores);
    const items = listed.filter((_, i) => classified.probs[i] !== null);
    const modelProbs = classified.probs.filter((p): p is number[] => p !== null);
    const unreadable = classified.unreadable;
    if (items.length === 0) {
      throw new CxrError('DATASET_INVALID', `None of the ${listed.length} image(s) of the ${split} split could be read; the first: ${unreadable[0]?.reason}`, { unreadable });
    }
    const mapped = req.labelMap
      ? applyLabelMap(loaded.config.classes, modelProbs, items.map((i) => i.label), req.labelMap)
      : { classes: loaded.config.classes, probs: modelProbs, yTrue: items.map((i) => classIndexOf(loaded.config.classes, i.label)) };
    const { classes, probs, yTrue } = mapped;
    const metrics = computeMetrics(yTrue, probs, classes);
    const trust = await trustEvaluation(loaded.runDir, loaded.config.data, req.data, items, yTrue, probs, classes, this.paths);
    metrics.caveats.push(...datasetCaveats(split), ...trust.caveats);
    if (unreadable.length > 0) {
      metrics.caveats.unshift(`${unreadable.length} of the ${listed.length} images could not be read and were left out; every number here describes the other ${items.length} (see Unreadable images).`);
    }
    const predictions: EvaluatedImage[] = items.map((item, i) => {
      const k = argMax(probs[i]);
      return {
        file: item.path,
        label: classes[k],
        classIndex: k,
        probabilities: probabilitiesRecord(classes, probs[i]),
        trueLabel: classes[yTrue[i]],
        correct: k === yTrue[i],
      };
    });
    const outDir = req.outDir !== undefined
      ? this.paths.check(path.resolve(req.outDir), 'output folder')
      : evaluationDir(loaded.runDir, split, this.paths);
    const result: EvaluateResult = {
      ...metrics,
      run: loaded.runDir,
      data: path.resolve(req.data),
      split,
      predictions,
      files: { json: path.join(outDir, 'evaluation.json'), markdown: path.join(outDir, 'evaluation.md') },
      ...(req.labelMap ? { modelClasses: loaded.config.classes, labelMap: req.labelMap } : {}),
      ...trust.fields,
      curves: classCurves(yTrue, probs, classes),
      unreadable,
    };
    writeJsonAtomic(result.files.json, result);
    writeFileAtomic(result.files.markdown, renderEvaluationMarkdown(result) + renderTrustMarkdown(result));
    if (split === 'test' && !req.labelMap && path.resolve(req.data) === path.resolve(loaded.config.data)) {
      try {
        recordTestAccuracy(loaded.runDir, metrics.accuracy, this.paths);
        await writeModelCard(loaded.runDir, this.paths);
      } catch (e) {
        // A read-only run can be evaluated into a writable --out; only the note in its status.json (and its card) is lost.
        if (!(e instanceof CxrError && e.code === 'STORAGE_FAILED')) throw e;
        this.opts.log?.(`Test accuracy not recorded in ${loaded.runDir}: ${e.message}`);
      }
    }
    return result;
  }

  predict(req: PredictRequest): Promise<ImagePrediction[]> {
    return this.onDevice(() => this.predictOnce(req));
  }

  private async predictOnce(req: PredictRequest): Promise<ImagePrediction[]> {
    await this.init();
    if (req.files.length === 0) throw new CxrError('INVALID_ARGUMENT', 'No image files to classify.');
    for (const f of req.files) this.paths.check(path.resolve(f), 'image');
    if (req.abstainBelow !== undefined && !(req.abstainBelow >= 0 && req.abstainBelow <= 1)) {
      throw new CxrError('INVALID_ARGUMENT', `The abstain threshold must be a probability from 0 to 1, got ${req.abstainBelow}.`);
    }
    if (req.run) {
      const session = await this.openSession(req.run);
      const loaded = session.loaded;
      const scored = await classifyWithFeatures(loaded, req.files, { session });
      const ood = readOodModel(loaded.runDir, this.paths);
      const calibration = readCalibration(loaded.runDir, this.paths);
      const abstainBelow = req.abstainBelow ?? calibration?.abstainBelow ?? DEFAULT_ABSTAIN_BELOW;
      return req.files.map((file, i) => {
        const s = scored[i]!;
        const calibrated = calibration ? applyTemperature(s.probs, calibration.temperature) : s.probs;
        const verdict = oodVerdict(s.check, s.features, ood);
        return {
          ...toPrediction(file, loaded.config.classes, s.probs, req.topK),
          calibratedProbabilities: probabilitiesRecord(loaded.config.classes, calibrated),
          ood: verdict,
          status: predictionStatus(verdict, Math.max(...calibrated), abstainBelow, req.ignoreOod === true),
        };
      });
    }
    if (!req.backbone || !req.weights || !req.labels) {
      throw new CxrError('INVALID_ARGUMENT', 'Give a run folder, or --backbone, --weights (with-top weights) and --labels (one label per line).');
    }
    const labels = loadLabels(this.paths.check(path.resolve(req.labels), 'labels file'));
    const { model, spec, inputSize } = await loadPretrainedClassifier(req.backbone, req.weights, labels.length, this.paths);
    try {
      const probs = await classifyFiles(model, spec, inputSize, req.files);
      return req.files.map((file, i) => toPrediction(file, labels, probs[i], req.topK ?? 5));
    } finally {
      model.dispose();
    }
  }

  explain(req: ExplainRequest): Promise<ExplainResult> {
    return this.onDevice(() => this.explainOnce(req));
  }

  private async explainOnce(req: ExplainRequest): Promise<ExplainResult> {
    await this.init();
    const session = await this.openSession(req.run);
    this.paths.check(path.resolve(req.image), 'image');
    const outFile = req.out === undefined ? undefined : this.paths.check(path.resolve(req.out), 'output file');
    if (outFile && fs.statSync(outFile, { throwIfNoEntry: false })?.isDirectory()) {
      throw new CxrError('OUTPUT_INVALID', `${outFile} is a folder; give a file name to write to (e.g. ${path.join(outFile, 'cam.png')}).`, { file: outFile });
    }
    const { config } = session.loaded;
    const target = req.className === undefined ? undefined : classIndexOf(config.classes, req.className);
    const method = req.method ?? 'cam';
    const explainer = new FileExplainer(session, method);
    try {
      const { decoded, image, out, upsampled, maps } = await explainer.explain(req.image, target);
      const alpha = req.alpha ?? 0.35;
      const wantPng = outFile !== undefined || req.includePng === true;
      const png = !wantPng
        ? undefined
        : req.overlayAtImageSize
          ? await overlayAtImageSize(req.image, out, alpha)
          : await renderOverlayPng(image, config.imageSize, upsampled, alpha);
      if (outFile && png) writeFileAtomic(outFile, png);
      return {
        ...(await this.explainTrust(session, req.image, decoded, out.probabilities, maps)),
        file: req.image,
        method,
        predicted: config.classes[argMax(out.probabilities)],
        target: config.classes[out.target],
        probabilities: probabilitiesRecord(config.classes, out.probabilities),
        heatmap: { width: out.width, height: out.height, data: Array.from(out.map) },
        overlayPath: outFile,
        overlayPngBase64: req.includePng ? png?.toString('base64') : undefined,
        engine: maps ? session.engine : 'tfjs',
        maps: maps && config.classes.map((className, i) => ({
          className,
          cam: Array.from(maps.cam[i].map),
          gradcam: Array.from(maps.gradcam[i].map),
        })),
      };
    } finally {
      explainer.dispose();
    }
  }

  /**
   * The refusal check and calibrated confidence of an explained image, as `cxr predict` gives them. A pooling + Dense
   * head's maps come with the pooled features; other heads need one more pass for them.
   */
  private async explainTrust(session: RunSession, file: string, decoded: DecodedImage, probs: readonly number[], maps: ClassMaps | undefined): Promise<TrustFields> {
    const { loaded } = session;
    const models = readTrustModels(loaded.runDir, this.paths);
    if (maps) return trustFields(loaded.config.classes, probs, checkChestRadiograph(decoded), maps.pooled, models);
    const [scored] = await classifyWithFeatures(loaded, [file]);
    return trustFields(loaded.config.classes, probs, scored!.check, scored!.features, models);
  }

  /** The method's figure: a grid of images with their CAM, each titled "Predicted / Real" in green or red. */
  camGrid(req: CamGridRequest): Promise<CamGridResult> {
    return this.onDevice(() => this.camGridOnce(req));
  }

  private async camGridOnce(req: CamGridRequest): Promise<CamGridResult> {
    const runDir = this.existingRun(req.run);
    // The engine starts and the run's model loads only for images the map cache does not hold (an evaluation stores
    // every image's maps).
    const session = async (): Promise<RunSession> => {
      await this.init();
      return this.openSession(runDir);
    };
    const config = readRunConfig(runDir, this.paths);
    const spec = getBackbone(config.backbone);
    const out = this.paths.check(path.resolve(req.out), 'output file');
    const items = (await selectItems(config, req.data, req.split ?? 'test', this.paths)).slice(0, req.limit ?? 66);
    const stored = await this.mapCache(runDir, config.imageSize);
    const batched = await camGridTilesBatched(items, req.method ?? 'cam', config, { stored, session });
    const tiles: CamGridTile[] = batched?.tiles ?? [];
    const unreadable: ExcludedImage[] = batched?.unreadable ?? [];
    const explainer = batched ? null : new FileExplainer(await session(), req.method ?? 'cam');
    const size = config.imageSize;
    try {
      for (const item of explainer ? items : []) {
        let explained: Awaited<ReturnType<FileExplainer['explain']>>;
        try {
          explained = await explainer!.explain(item.path);
        } catch (e) {
          if (!(e instanceof CxrError && SKIPPABLE_DECODE_ERRORS.has(e.code))) throw e;
          unreadable.push({ file: item.path, code: e.code, reason: e.message });
          continue;
        }
        const { image, out, upsampled } = explained;
        tiles.push({
          unitRgb: image,
          size,
          heatmap01: upsampled,
          predicted: config.classes[argMax(out.probabilities)],
          real: item.label,
        });
      }
    } finally {
      explainer?.dispose();
    }
    if (tiles.length === 0) {
      throw new CxrError('DATASET_INVALID', `None of the ${items.length} image(s) could be read; the first: ${unreadable[0]?.reason}`, { unreadable });
    }
    const png = await renderCamGrid(tiles, { columns: req.columns ?? 6, title: `${spec.displayName} ${req.method ?? 'cam'}` });
    writeFileAtomic(out, png);
    return { out, tiles: tiles.length, correct: tiles.filter((t) => t.predicted === t.real).length, unreadable };
  }

  /** Writes the run's model as ONNX or TF.js, taking [0,1] RGB and giving probabilities in class order. */
  async export(req: ExportRequest): Promise<ExportResult> {
    await this.init();
    const loaded = await this.loadRun(req.run);
    const result = await exportRun(loaded, req);
    return { ...result, modelCard: await writeExportedModelCard(loaded.runDir, result, this.paths) };
  }

  /** The feature cache's folder and size. */
  cacheInfo(): CacheInfo {
    return cacheInfo();
  }

  /** Empties the feature cache; returns what it held. */
  clearCache(): CacheInfo {
    return clearCache();
  }

  dispose(): void {
    this.dropCache();
  }

  /** tfjs tensors alive now (the cached run model's included): a diagnostic for leak checks. */
  liveTensors(): number {
    return tf.memory().numTensors;
  }

  /**
   * Runs a gradient-free job. When the GPU backend fails under it (out of memory, device lost), this engine moves to
   * the CPU path with a warning naming the reason, and the job runs once more there. (Training never does this: a
   * run does not change device mid-run; see backend/deviceFailure.ts.)
   */
  private async onDevice<T>(job: () => Promise<T>): Promise<T> {
    const backend = await this.init();
    try {
      return await job();
    } catch (e) {
      const reason = onGpuPath(backend) ? deviceFailureReason(e) : null;
      if (reason == null) throw e;
      this.dropCache();
      this.backend = await fallBackToCpu(reason);
      for (const warning of this.backend.warnings) this.opts.log?.(`warning: ${warning}`);
      return job();
    }
  }

  /** The run folder, allowed and present. */
  private existingRun(runDir: string): string {
    const dir = this.paths.check(path.resolve(runDir), 'run folder');
    if (!fs.existsSync(dir)) throw new CxrError('NOT_FOUND', `Run folder not found: ${dir}`);
    return dir;
  }

  /** The map cache of the run's current best model; null when the cache is off or the model cannot be read. */
  private async mapCache(runDir: string, imageSize: number): Promise<MapCache | null> {
    try {
      return await MapCache.forModel(trainedModelManifest(runDir, this.paths), imageSize, this.paths);
    } catch (e) {
      this.opts.log?.(`Class maps are not cached for ${runDir}: ${toCxrError(e).message}`);
      return null;
    }
  }

  private async loadRun(runDir: string): Promise<LoadedRun> {
    const dir = this.existingRun(runDir);
    if (this.cached && this.cached.runDir === dir && this.cached.loadedMtimeMs === modelMtime(dir)) return this.cached;
    this.dropCache();
    this.cached = await loadRunModel(dir, this.paths);
    this.opts.log?.(`Loaded model of ${dir}`);
    return this.cached;
  }

  /** The run's warm forward pass (ONNX Runtime where it loads), reopened when the run's best model changes. */
  private async openSession(runDir: string): Promise<RunSession> {
    const loaded = await this.loadRun(runDir);
    if (this.session?.loaded !== loaded) {
      this.session?.dispose();
      this.session = await RunSession.open(loaded, (reason) => this.opts.log?.(`Inference runs on tfjs: ${reason}`));
      this.opts.log?.(`Inference for ${loaded.runDir} runs on ${this.session.engine}`);
    }
    return this.session;
  }

  /**
   * Keeps the model a training just finished with as the loaded run: its weights are the best model's (the trainer
   * hands it over only then), so trust fitting and the next prediction need not build it and read it back.
   */
  private adoptTrainedModel(runDir: string, model: tfl.LayersModel): void {
    this.dropCache();
    const dir = path.resolve(runDir);
    const config = readRunConfig(dir, this.paths);
    this.cached = { runDir: dir, config, spec: getBackbone(config.backbone), model, loadedMtimeMs: modelMtime(dir) };
  }

  private dropCache(): void {
    this.session?.dispose();
    this.session = null;
    this.cached?.model.dispose();
    this.cached = null;
  }
}

/**
 * Decodes one image at the run's input size and explains it: the image, the map, the map upsampled to it. A pooling +
 * Dense head gets every class's CAM and Grad-CAM from the run's warm forward pass; other heads use the tfjs CAM method.
 */
class FileExplainer {
  private cam: CamMethod | null = null;

  constructor(
    private readonly session: RunSession,
    private readonly method: CamMethodName,
  ) {}

  async explain(file: string, target?: number): Promise<{ decoded: DecodedImage; image: Float32Array; out: CamOutput; upsampled: Float32Array; maps?: ClassMaps }> {
    const { spec, config, model } = this.session.loaded;
    const size = config.imageSize;
    const decoded = await decodeImage(file, size);
    const image = decoded.data;
    const maps = await this.session.explainAll(image);
    let out: CamOutput;
    if (maps) {
      const t = target ?? argMax(maps.probabilities);
      const chosen = maps[this.method][t];
      out = { map: chosen.map, width: maps.width, height: maps.height, target: t, probabilities: maps.probabilities, allZero: chosen.allZero };
    } else {
      this.cam ??= createCam(this.method, model, spec.featureLayer);
      const input = tf.tidy(() => spec.preprocess(stackImages([image], size)));
      try {
        [out] = await this.cam.compute(input, [target]);
      } finally {
        input.dispose();
      }
    }
    return { decoded, image, out, upsampled: upsampleBilinear(out.map, out.width, out.height, size, size), maps: maps ?? undefined };
  }

  dispose(): void {
    this.cam?.dispose();
  }
}

/** The overlay on the image's own pixels at its own size (up to MAX_OUTPUT_SIZE a side): the map upsampled to it. */
async function overlayAtImageSize(file: string, out: CamOutput, alpha: number): Promise<Buffer> {
  const full = await decodeImage(file, MAX_OUTPUT_SIZE, { fit: 'own' });
  const heat = upsampleBilinear(out.map, out.width, out.height, full.width, full.height);
  return renderOverlayPngRect(full.data, full.width, full.height, heat, alpha);
}

async function selectItems(config: RunConfig, data: string, split: string, paths: PathPolicy, checkLabels = true): Promise<DatasetItem[]> {
  const dataset = await loadDataset(data, paths);
  const pool = dataset.items.filter((i) => i.split !== 'test');
  let items: DatasetItem[];
  switch (split) {
    case 'test':
      items = dataset.items.filter((i) => i.split === 'test');
      break;
    case 'val':
    case 'train': {
      const s = splitTrainVal(pool, { valFraction: config.valFraction, seed: config.seed });
      items = split === 'val' ? s.val : s.train;
      break;
    }
    case 'all':
      items = dataset.items;
      break;
    default:
      throw new CxrError('INVALID_ARGUMENT', `Unknown split '${split}': use test, val, train or all.`);
  }
  if (items.length === 0) throw new CxrError('DATASET_INVALID', `The ${split} split of ${dataset.root} has no images.`);
  if (checkLabels) for (const item of items) classIndexOf(config.classes, item.label);
  return items;
}

function classIndexOf(classes: readonly string[], name: string): number {
  const i = classes.indexOf(name);
  if (i < 0) throw new CxrError('INVALID_ARGUMENT', `Class '${name}' is not one of the model's classes: ${classes.join(', ')}.`);
  return i;
}

function toPrediction(file: string, classes: readonly string[], probs: readonly number[], topK?: number): ImagePrediction {
  const k = argMax(probs);
  let record = probabilitiesRecord(classes, probs);
  if (topK && topK < classes.length) {
    const top = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]).slice(0, topK);
    record = Object.fromEntries(top.map(([p, i]) => [classes[i], p]));
  }
  return { file, label: classes[k], classIndex: k, probabilities: record };
}

function datasetCaveats(split: string): string[] {
  const caveats = [
    'Research use only: this is not a diagnostic device and these numbers are not clinical performance.',
  ];
  if (split !== 'all') {
    caveats.push(
      `The ${split} split comes from the same collection as the training images: this is internal, not external, validation; ` +
        'expect lower accuracy on images from other hospitals or scanners.',
    );
  }
  return caveats;
}


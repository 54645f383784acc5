import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { EpochMetrics, RunConfig, TrainEvent, TrainRequest, TrainResult } from '../api';
import { recordRunDevice, trainingDeviceFailure } from '../backend/deviceFailure';
import { initBackend } from '../backend/select';
import { loadDataset, type DatasetItem } from '../data/dataset';
import { decodeImage } from '../data/decode';
import { decodeInThread, decoderFor } from '../data/imageDecoder';
import { splitTrainVal } from '../data/split';
import { CxrError } from '../errors';
import { buildClassifier, HEAD_DENSE_LAYER, HEAD_POOL_LAYER, isHeadWeight } from '../models/classifier';
import { getBackbone, METHOD_AUGMENTATION, type BackboneSpec } from '../models/registry';
import { splitModelAt } from '../models/split';
import { applyNamedWeights, readWeightsFile } from '../models/weights';
import { checkBatchNormMode, DEFAULT_BATCH_NORM_MODE, pinBatchNormToInference } from './batchNormMode';
import { resolvePretrainedWeights } from '../models/pretrained';
import { mapLimit, yieldToEventLoop } from '../util/concurrency';
import { Rng } from '../util/rng';
import { ensureFolder } from '../util/atomic';
import { divergence, validateTrainingNumbers } from '../numbers';
import { TRAINING_DEFAULTS } from '../trainingRanges';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import {
  isOptimizerSlot,
  readCheckpointState,
  RunFolder,
  TrainingWeightsWriter,
  type NamedTensor,
  type TrainerState,
} from './runFolder';
import { categoricalCrossEntropy, countCorrect, oneHot } from './tensors';
import { SKIPPABLE_DECODE_ERRORS, streamFrozenOutputs, type StreamOptions } from './featureStream';
import { createFrozenPart, elementCount, lazyFrozenPart } from './frozenPart';
import { ortStatus } from '../onnx/runtime';
import { FeatureCache, featureCacheEnabled, weightsHash } from '../cache/featureCache';
import { heldSource, isPooledDenseHead, recomputedSource, type HeadInputSource } from './headInputs';
import { pooledKeyParts } from '../ood/pooledFeatures';
import { denseHeadSteps } from './denseHeadSteps';
import { createOrtSteps } from './ortTrainStep';
import type { StepResult, TrainSteps } from './trainSteps';

export interface TrainContext {
  onEvent?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  /**
   * 'auto' (default): a pooling + Dense head trains on pooled features. 'featureMaps': on the frozen part's feature
   * maps, as any other head does (the equivalence test compares the two).
   */
  headInputs?: 'auto' | 'featureMaps';
  /** Files training may read and write (the dataset recorded in a resumed run's config included). */
  paths?: PathPolicy;
  /**
   * 'auto' (default): when tfjs runs on the CPU (wasm, cpu), trainable convolutions step on ONNX Runtime
   * (train/ortTrainStep.ts) and a Dense head on pooled features in plain arithmetic (train/denseHeadSteps.ts).
   * 'tfjs': always tfjs's autodiff (the equivalence tests and the benchmark's baseline).
   */
  stepEngine?: 'auto' | 'tfjs';
  /**
   * Given the trained model when training completed and its last epoch was the one saved as the best model: the
   * weights in memory are then those in the run folder, and the caller takes the model (and disposes it) instead of
   * building and loading it again. Not called otherwise; the model is then disposed here.
   */
  adoptModel?: (model: tfl.LayersModel) => void;
}

/** Largest batch pushed through trainable conv layers at once: the 32-bit wasm heap overflows beyond (engine.md). */
const CONV_MICRO_BATCH = 8;
/** Images per frozen-part call while streaming. */
const FROZEN_CHUNK = 16;
const VALIDATION_CHUNK = 64;
/** Feature maps (not pooled) of the whole training set are held in memory only up to this size; beyond, recomputed per batch. */
const HELD_MAPS_BUDGET_BYTES = 512 * 2 ** 20;

/**
 * Transfer learning as the method defines it: a pretrained conv base frozen up to `freezeAt`, global average
 * pooling, Dense softmax, SGD with momentum. The frozen part always runs in inference mode (tfjs-layers would run
 * frozen BatchNorm on batch statistics under fit()), so it is cut off and run with predict(); only the layers after
 * the cut train. Without augmentation the frozen part's output is computed once and reused every epoch.
 * BatchNorm layers in the trained part run in inference mode unless the run asks for batch statistics.
 */
export async function train(req: TrainRequest, ctx: TrainContext = {}): Promise<TrainResult> {
  const started = Date.now();
  const emit = ctx.onEvent ?? (() => {});
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    emit({ kind: 'warning', message });
  };

  const backend = await initBackend();
  const paths = ctx.paths ?? UNRESTRICTED;
  const run = new RunFolder(paths.check(path.resolve(req.out), 'run folder'), paths);
  const resuming = req.resume === true;
  emit({ kind: 'phase', phase: 'preparing', message: `Preparing ${resuming ? 'to resume ' : ''}${run.dir} on ${backend.name}` });

  if (resuming) {
    const repaired = run.recover();
    if (repaired.length > 0) emit({ kind: 'phase', phase: 'preparing', message: `Repaired an interrupted write: ${repaired.join('; ')}` });
  }
  const previousStatus = resuming ? run.readStatus() : null;
  const saved = resuming ? run.readConfig() : null;
  // A resumed run trains on the data it recorded: that path comes from a file, not from the request, so it is checked.
  const dataPath = saved ? paths.check(path.resolve(saved.data), 'dataset', "recorded in the run's config.json") : req.data;
  const dataset = await loadDataset(dataPath, paths);
  const config = saved ?? newRunConfig(req, dataset.classes);
  const spec = getBackbone(config.backbone);
  if (resuming) assertSameClasses(config.classes, dataset.classes);
  const createdRunDir = resuming ? false : prepareNewRunFolder(run);
  recordRunDevice(config, backend, resuming, warn);

  const trainPool = dataset.items.filter((i) => i.split !== 'test');
  const split = splitTrainVal(trainPool, { valFraction: config.valFraction, seed: config.seed });
  if (split.train.length === 0) throw new CxrError('DATASET_INVALID', `No training images in ${dataset.root}.`);
  config.split = {
    train: split.train.length,
    val: split.val.length,
    test: dataset.items.filter((i) => i.split === 'test').length,
    groupedByPatient: split.groupedByPatient,
  };

  const checkpointState = resuming ? readCheckpointState(run.checkpointDir) : null;
  if (resuming && !checkpointState) {
    throw new CxrError('RUN_INVALID', `${run.dir} has no checkpoint to resume from (no epoch finished). Start a new run instead.`);
  }
  // Every weight comes from the checkpoint, or from the pretrained file plus the seeded head: no random start needed.
  const model = buildClassifier(spec, config.classes.length, config.imageSize, { weightsFollow: checkpointState !== null || config.weights != null });
  let optimizerSlots: NamedTensor[] = [];
  try {
    if (checkpointState) {
      optimizerSlots = await loadCheckpointWeights(model, run.checkpointDir, paths);
    } else {
      // Weights the engine found by itself in the models folder are trusted; a file the request named is checked.
      await loadPretrainedWeights(model, spec, config, warn, req.weights !== undefined ? paths : UNRESTRICTED);
      initialiseHead(model, config.seed);
    }
  } catch (e) {
    model.dispose();
    if (createdRunDir) fs.rmSync(run.dir, { recursive: true, force: true });
    throw e;
  }

  run.writeConfig(config);
  const state: TrainerState = checkpointState ?? {
    epochsDone: 0,
    bestEpoch: null,
    bestValLoss: null,
    bestValAccuracy: null,
    rngState: new Rng(config.seed ^ 0x5eed).getState(),
  };
  const history: EpochMetrics[] = resuming ? run.readHistory().filter((h) => h.epoch <= state.epochsDone) : [];
  // The test accuracy an evaluation recorded stays true until the best model changes.
  let testAccuracy = previousStatus?.testAccuracy ?? null;
  const writeStatus = (status: TrainResult['status'], message?: string): void =>
    run.writeStatus({
      status,
      epochsRun: state.epochsDone,
      epochs: config.epochs,
      bestEpoch: state.bestEpoch,
      bestValLoss: state.bestValLoss,
      bestValAccuracy: state.bestValAccuracy,
      testAccuracy,
      updatedAt: new Date().toISOString(),
      pid: process.pid,
      message,
    });
  writeStatus('running');

  const cut = splitModelAt(model, config.freezeAt);
  for (const layer of cut.before.layers) layer.trainable = false;
  const weightsWriter = new TrainingWeightsWriter(model, new Set(cut.beforeLayers));
  // A pooling + Dense head sees the pooled features only, and the pooling is fixed: so the frozen part is extended
  // through the pooling and the head trains on 1280 numbers per image instead of a 7x7x1280 map.
  const pooledHead = !config.augment && ctx.headInputs !== 'featureMaps' && isPooledDenseHead(cut.after);
  const pooledSplit = pooledHead ? splitModelAt(model, HEAD_POOL_LAYER) : null;
  const { before, after } = pooledSplit ?? cut;
  const trainVars = after.trainableWeights.map((w) => w.read() as tf.Variable);
  // Runs made before the option existed trained BatchNorm on batch statistics: a resumed one keeps doing so.
  const batchNorm = config.batchNorm ?? 'batch';
  if (batchNorm === 'inference') pinBatchNormToInference(after);
  const trainsConvs = after.layers.some((l) => l.getClassName().includes('Conv'));
  const microBatch = trainsConvs ? CONV_MICRO_BATCH : config.batchSize;

  const result = (status: TrainResult['status']): TrainResult => ({
    runDir: run.dir,
    status,
    epochsRun: state.epochsDone,
    bestEpoch: state.bestEpoch,
    bestValLoss: state.bestValLoss,
    bestValAccuracy: state.bestValAccuracy,
    history,
    backend: backend.name,
    device: backend.device,
    seconds: (Date.now() - started) / 1000,
    warnings,
  });

  // Created on the first image the feature cache does not hold; a missing ONNX Runtime is said at once all the same.
  const onTfjs = (reason: string): void => emit({ kind: 'phase', phase: 'preparing', message: `The frozen layers run on tfjs: ${reason}` });
  const ort = ortStatus();
  if (!ort.available) onTfjs(ort.reason ?? 'ONNX Runtime is not available');
  const frozen = lazyFrozenPart(
    before,
    () => createFrozenPart(before, spec, config.imageSize, (reason) => {
      if (ort.available) onTfjs(reason);
    }),
    (engine) => emit({ kind: 'phase', phase: 'features', message: `The frozen layers run on ${engine}` }),
  );
  // Decoding worker threads for the sources decoded again every epoch, started on their first image.
  const decoder = decoderFor(split.train.length + split.val.length);
  // Disposed however training ends (completed, cancelled, failed): its momentum slots are tensors.
  let disposeOptimizer = (): void => {};
  let steps: TrainSteps | null = null;
  /** Whether the last epoch run here saved the best model (so the weights in memory are the saved ones). */
  let lastEpochSaved = false;
  let adopted = false;
  try {
    const rng = Rng.fromState(state.rngState);
    const cache = new FeatureCache(
      pooledHead ? await pooledKeyParts(config, before) : { backbone: spec.id, cutAt: config.freezeAt, imageSize: config.imageSize, weights: await weightsHash(before) },
    );
    const cacheOpts = featureCacheEnabled() ? cachedOutputs(cache, elementCount(frozen.outputShape), warn) : {};
    const streamOpts = (what: string): StreamOptions => ({
      imageSize: config.imageSize,
      chunk: FROZEN_CHUNK,
      signal: ctx.signal,
      onProgress: (done, total) => emit({ kind: 'phase', phase: 'features', message: `Frozen layers over the ${what} images`, done, total }),
      // A one-pass stream decodes on libuv's pool, a whole chunk ahead: those decodes go on while the synchronous
      // ONNX Runtime call holds this thread, where the worker pool's round trips would wait for it (2.0 s for the
      // 251 reference images against 2.8 s through the pool, 2 cores).
      decoder: decodeInThread,
      decodeConcurrency: FROZEN_CHUNK,
      ...cacheOpts,
    });
    const mapBytes = elementCount(frozen.outputShape) * 4;
    const holdable = (n: number): boolean => pooledHead || n * mapBytes <= HELD_MAPS_BUDGET_BYTES;
    const augment = config.augment;
    const skipped: string[] = [];
    const held = async (items: DatasetItem[], what: string): Promise<HeadInputSource> => {
      const out = await streamFrozenOutputs(items, frozen, streamOpts(what));
      skipped.push(...out.skipped);
      emit({ kind: 'phase', phase: 'features', message: `Frozen outputs of the ${what} images: ${out.stats.hits} from the cache, ${out.stats.computed} computed` });
      return heldSource(out);
    };
    // Decoded again for each batch (augmentation differs every epoch, or the maps would not fit): check once that every image decodes.
    const readable = async (items: DatasetItem[]): Promise<DatasetItem[]> => {
      const bad = await findUnreadable(items, config.imageSize, ctx.signal);
      skipped.push(...bad.map((b) => b.reason));
      const badSet = new Set(bad.map((b) => b.item));
      return items.filter((i) => !badSet.has(i));
    };
    emit({ kind: 'phase', phase: 'features', message: `Running the frozen layers over the training and validation images, keeping ${pooledHead ? 'pooled features' : 'feature maps'}` });
    const trainSource = !augment && holdable(split.train.length)
      ? await held(split.train, 'training')
      : recomputedSource(await readable(split.train), frozen, config.imageSize, augment ? { params: augment, rng } : undefined, decoder.decode);
    const valSource = split.val.length === 0 ? null
      : holdable(split.val.length) ? await held(split.val, 'validation')
      : recomputedSource(await readable(split.val), frozen, config.imageSize, undefined, decoder.decode);
    if (skipped.length > 0) {
      warn(`Skipped ${skipped.length} unreadable image(s), the run trains without them: ${skipped.join('; ')}`);
      if (trainSource.size === 0) throw new CxrError('DATASET_INVALID', 'None of the training images could be read.');
      config.split = { ...config.split, train: trainSource.size, val: valSource?.size ?? 0 };
      run.writeConfig(config);
    }

    const optimizer = tf.train.momentum(config.learningRate, config.momentum);
    disposeOptimizer = () => {
      optimizer.dispose();
      // tfjs 4.22's MomentumOptimizer.dispose skips its SGD parent's learning-rate scalar: one tensor per training.
      tf.SGDOptimizer.prototype.dispose.call(optimizer);
    };
    if (optimizerSlots.length > 0) await optimizer.setWeights(optimizerSlots);
    const batches = Math.ceil(trainSource.size / config.batchSize);
    // On the CPU backends tfjs's per-op cost dominates small steps; tfjs-node and the GPU backends keep their own.
    if (ctx.stepEngine !== 'tfjs' && (backend.name === 'wasm' || backend.name === 'cpu')) {
      if (trainsConvs) steps = await stepsOnOrt(after, emit);
      else if (pooledHead) steps = denseHeadSteps(after);
    }
    emit({ kind: 'phase', phase: 'training', message: `Training ${spec.displayName} from layer after '${config.freezeAt}'` });

    for (let epoch = state.epochsDone + 1; epoch <= config.epochs; epoch++) {
      const epochStart = Date.now();
      const order = rng.shuffle(trainSource.labels.map((_, i) => i));
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batches; b++) {
        if (ctx.signal?.aborted) return finishCancelled();
        const idx = order.slice(b * config.batchSize, (b + 1) * config.batchSize);
        const x = await trainSource.batch(idx);
        const y = oneHot(idx.map((i) => trainSource.labels[i]), config.classes.length);
        const step = steps ? await steps.step(x, y, optimizer) : await trainStep(after, optimizer, trainVars, x, y, microBatch);
        tf.dispose([x, y]);
        lossSum += step.loss * idx.length;
        correct += step.correct;
        emit({
          kind: 'batch', epoch, epochs: config.epochs, batch: b + 1, batches,
          loss: step.loss, accuracy: step.correct / idx.length,
        });
        await yieldToEventLoop();
      }

      const val = valSource ? await validate(after, valSource, config.classes.length, steps) : null;
      const metrics: EpochMetrics = {
        epoch,
        loss: lossSum / trainSource.size,
        accuracy: correct / trainSource.size,
        valLoss: val?.loss ?? null,
        valAccuracy: val?.accuracy ?? null,
        seconds: (Date.now() - epochStart) / 1000,
      };
      const score = metrics.valLoss ?? metrics.loss;
      const diverged = await divergence(metrics, trainVars);
      if (diverged) {
        const kept = state.bestEpoch !== null ? `the best model so far (epoch ${state.bestEpoch}) is kept` : 'no model was saved';
        throw new CxrError(
          'NON_FINITE',
          `Training diverged in epoch ${epoch}: ${diverged}. Stopped; ${kept}. Start a new run with a lower learning rate (this one used ${config.learningRate}).`,
          { epoch },
        );
      }
      const improved = state.bestValLoss === null || score < state.bestValLoss;
      lastEpochSaved = improved;
      if (improved) {
        state.bestEpoch = epoch;
        state.bestValLoss = score;
        state.bestValAccuracy = metrics.valAccuracy;
        await weightsWriter.saveModel(run.modelDir);
        testAccuracy = null;
      }
      history.push(metrics);
      state.epochsDone = epoch;
      state.rngState = rng.getState();
      run.writeHistory(history);
      const slots = await optimizer.getWeights();
      try {
        await weightsWriter.saveCheckpoint(run.checkpointDir, slots, state);
      } finally {
        // getWeights makes a new 'iter' scalar each call; the other slots are the optimizer's own variables.
        tf.dispose(slots.filter((s) => s.name === 'iter').map((s) => s.tensor));
      }
      writeStatus('running');
      emit({ kind: 'epoch', epochs: config.epochs, improved, ...metrics });
      await yieldToEventLoop();
    }
    writeStatus('completed');
    emit({ kind: 'phase', phase: 'finished', message: `Finished: best epoch ${state.bestEpoch}, val loss ${fmt(state.bestValLoss)}` });
    if (lastEpochSaved && ctx.adoptModel) {
      ctx.adoptModel(model);
      adopted = true;
    }
    return result('completed');
  } catch (e) {
    if (e instanceof CxrError && e.code === 'CANCELLED') return finishCancelled();
    const err = trainingDeviceFailure(e, backend, run.dir) ?? e;
    try {
      writeStatus('failed', err instanceof Error ? err.message : String(err));
    } catch {
      // The disk that failed the training may refuse status.json too; the error below still says why.
    }
    throw err;
  } finally {
    await steps?.dispose();
    disposeOptimizer();
    tf.dispose(optimizerSlots.map((s) => s.tensor)); // setWeights copied them into the optimizer's own variables
    await decoder.close();
    frozen.dispose();
    pooledSplit?.after.dispose();
    cut.after.dispose();
    if (!adopted) model.dispose();
  }

  function finishCancelled(): TrainResult {
    const kept = state.bestEpoch !== null ? `best model from epoch ${state.bestEpoch} kept` : 'no epoch had finished, so there is no model';
    writeStatus('cancelled', `Cancelled by the user; ${kept}.`);
    emit({ kind: 'phase', phase: 'finished', message: `Cancelled; ${kept}.` });
    return result('cancelled');
  }
}

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(4);
}

function newRunConfig(req: TrainRequest, classes: string[]): RunConfig {
  const spec = getBackbone(req.backbone);
  const augment =
    req.augment === undefined ? spec.recipe.augment
    : req.augment === true ? (spec.recipe.augment ?? METHOD_AUGMENTATION)
    : req.augment === false ? null
    : req.augment;
  const epochs = req.epochs ?? spec.recipe.epochs;
  const batchSize = req.batchSize ?? spec.recipe.batchSize;
  const valFraction = req.valFraction ?? TRAINING_DEFAULTS.valFraction;
  const learningRate = req.learningRate ?? spec.recipe.learningRate;
  const momentum = req.momentum ?? spec.recipe.momentum;
  const imageSize = req.imageSize ?? spec.defaultInputSize;
  const seed = req.seed ?? TRAINING_DEFAULTS.seed;
  validateTrainingNumbers({ epochs, batchSize, learningRate, momentum, valFraction, seed, imageSize });
  if (augment) {
    const { rotationDeg, widthShift, heightShift, zoom } = augment;
    validateTrainingNumbers({ rotationDeg, widthShift, heightShift, zoom });
  }
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    data: path.resolve(req.data),
    backbone: spec.id,
    weights: resolvePretrainedWeights(spec, req.weights),
    pretrained: false,
    classes,
    epochs,
    batchSize,
    learningRate,
    momentum,
    seed,
    valFraction,
    freezeAt: req.freezeAt ?? spec.defaultFreezeAt,
    augment,
    batchNorm: checkBatchNormMode(req.batchNorm ?? DEFAULT_BATCH_NORM_MODE),
    imageSize,
    split: { train: 0, val: 0, test: 0, groupedByPatient: false },
  };
}

/** Makes sure `run.dir` is an empty folder to train into; true when it was created here (so a failure removes it). */
function prepareNewRunFolder(run: RunFolder): boolean {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(run.dir, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
    throw new CxrError('OUTPUT_INVALID', `${run.dir} cannot be a run folder: a folder above it is a file. Give a folder path for --out.`, { runDir: run.dir });
  }
  if (stat && !stat.isDirectory()) {
    throw new CxrError('OUTPUT_INVALID', `${run.dir} is a file; --out must name a folder for the run (new, or empty).`, { runDir: run.dir });
  }
  if (stat && fs.readdirSync(run.dir).length > 0) {
    throw new CxrError(
      'RUN_INVALID',
      `The run folder ${run.dir} already exists and is not empty. Choose a new --out, or resume it with --resume.`,
    );
  }
  ensureFolder(run.dir);
  return !stat;
}

function assertSameClasses(expected: string[], found: string[]): void {
  if (expected.join('\u0000') !== found.join('\u0000')) {
    throw new CxrError('DATASET_INVALID', `The dataset's classes changed since the run started: was [${expected.join(', ')}], now [${found.join(', ')}].`);
  }
}

async function loadPretrainedWeights(
  model: tfl.LayersModel,
  spec: BackboneSpec,
  config: RunConfig,
  warn: (m: string) => void,
  paths: PathPolicy,
): Promise<void> {
  const file = config.weights;
  if (!file) {
    warn(
      `NO PRETRAINED WEIGHTS: ${spec.displayName} starts from random initialisation, so transfer learning will not work ` +
        `and accuracy will be poor. In VS Code run "CXR: Get Backbone Weights"; on the command line pass --weights with an ImageNet weights file (${spec.knownWeights.noTop.join(' or ')}).`,
    );
    return;
  }
  const named = await readWeightsFile(file, paths);
  try {
    applyNamedWeights(model, named, { ignore: isHeadWeight, allowMissing: false });
  } finally {
    named.forEach((t) => t.dispose());
  }
  config.pretrained = true;
}

async function loadCheckpointWeights(model: tfl.LayersModel, dir: string, paths: PathPolicy): Promise<NamedTensor[]> {
  const named = await readWeightsFile(path.join(dir, 'weights_manifest.json'), paths);
  const slots: NamedTensor[] = [];
  for (const [name, t] of [...named.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (isOptimizerSlot(name)) {
      slots.push({ name, tensor: t });
      named.delete(name);
    }
  }
  try {
    applyNamedWeights(model, named);
  } finally {
    named.forEach((t) => t.dispose());
  }
  return slots;
}

/** Seeded Glorot-uniform head, so two runs with the same seed start from the same point. */
function initialiseHead(model: tfl.LayersModel, seed: number): void {
  const dense = model.getLayer(HEAD_DENSE_LAYER);
  const [kernel, bias] = dense.getWeights();
  const [fanIn, fanOut] = kernel.shape;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: fanIn * fanOut }, () => rng.uniform(-limit, limit));
  const initial = [tf.tensor2d(values, [fanIn, fanOut]), tf.zerosLike(bias)];
  dense.setWeights(initial); // copies into the layer's variables
  tf.dispose(initial);
}

/** Stream hooks that read and write the feature cache; a cache that cannot be written warns once and is skipped. */
function cachedOutputs(cache: FeatureCache, length: number, warn: (m: string) => void): Pick<StreamOptions, 'lookup' | 'store'> {
  const keys = new Map<string, string>();
  let broken = false;
  const keyOf = async (item: DatasetItem): Promise<string> => {
    let key = keys.get(item.path);
    if (!key) keys.set(item.path, (key = await cache.keyOf(item.path)));
    return key;
  };
  return {
    lookup: async (item) => {
      try {
        return await cache.get(await keyOf(item), length);
      } catch {
        return null; // unreadable file: decoding reports it
      }
    },
    store: async (item, output) => {
      if (broken) return;
      try {
        await cache.put(await keyOf(item), output);
      } catch (e) {
        broken = true;
        warn(`The feature cache cannot be written (${e instanceof Error ? e.message : String(e)}); training goes on without it.`);
      }
    },
  };
}

/** Decodes every image once without keeping it; returns those that cannot be read (the run leaves them out). */
async function findUnreadable(items: DatasetItem[], size: number, signal?: AbortSignal): Promise<{ item: DatasetItem; reason: string }[]> {
  const bad: { item: DatasetItem; reason: string }[] = [];
  await mapLimit(items, 4, async (item) => {
    if (signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled while decoding images.');
    try {
      await decodeImage(item.path, size);
    } catch (e) {
      if (e instanceof CxrError && SKIPPABLE_DECODE_ERRORS.has(e.code)) bad.push({ item, reason: `${path.basename(item.path)}: ${e.message}` });
      else throw e;
    }
  });
  return bad;
}

/**
 * One optimiser step on a batch, accumulating gradients over micro-batches so conv layers fit the wasm heap.
 * Values are read asynchronously: the webgpu backend cannot read synchronously under Node.
 */
async function trainStep(
  after: tfl.LayersModel,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  microBatch: number,
): Promise<StepResult> {
  const n = x.shape[0];
  let lossSum = 0;
  let correct = 0;
  let summed: tf.NamedTensorMap | null = null;
  for (let start = 0; start < n; start += microBatch) {
    const size = Math.min(microBatch, n - start);
    const xc = tf.slice(x, start, size);
    const yc = tf.slice(y, start, size);
    let probs: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const p = after.apply(xc, { training: true }) as tf.Tensor;
      probs = tf.keep(p);
      return tf.mul(categoricalCrossEntropy(yc, p), size / n) as tf.Scalar;
    }, vars);
    lossSum += (await value.data())[0] * n;
    correct += await countCorrect(yc, probs!);
    if (summed === null) {
      summed = grads;
    } else {
      const prev: tf.NamedTensorMap = summed;
      summed = Object.fromEntries(Object.keys(grads).map((k) => [k, tf.add(prev[k], grads[k])]));
      tf.dispose([...Object.values(prev), ...Object.values(grads)]);
    }
    tf.dispose([xc, yc, value, probs!]);
  }
  optimizer.applyGradients(summed!);
  tf.dispose(Object.values(summed!));
  return { loss: lossSum / n, correct };
}

/** ONNX Runtime steps for the trainable part, or null (tfjs steps) with the reason said. */
async function stepsOnOrt(after: tfl.LayersModel, emit: (e: TrainEvent) => void): Promise<TrainSteps | null> {
  let made: TrainSteps | { reason: string };
  try {
    made = await createOrtSteps(after);
  } catch (e) {
    made = { reason: e instanceof Error ? e.message : String(e) };
  }
  if ('reason' in made) {
    emit({ kind: 'phase', phase: 'training', message: `Training steps run on tfjs: ${made.reason}` });
    return null;
  }
  emit({ kind: 'phase', phase: 'training', message: 'Training steps run on onnxruntime' });
  return made;
}

async function validate(
  after: tfl.LayersModel,
  source: HeadInputSource,
  numClasses: number,
  steps: TrainSteps | null,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < source.size; start += VALIDATION_CHUNK) {
    const idx = Array.from({ length: Math.min(VALIDATION_CHUNK, source.size - start) }, (_, k) => start + k);
    const x = await source.batch(idx);
    const y = oneHot(idx.map((i) => source.labels[i]), numClasses);
    if (steps) {
      const r = await steps.evaluate(x, y);
      lossSum += r.loss * idx.length;
      correct += r.correct;
      tf.dispose([x, y]);
      continue;
    }
    const probs = after.predict(x) as tf.Tensor;
    const loss = categoricalCrossEntropy(y, probs);
    lossSum += (await loss.data())[0] * idx.length;
    correct += await countCorrect(y, probs);
    tf.dispose([x, y, probs, loss]);
  }
  return { loss: lossSum / source.size, accuracy: correct / source.size };
}

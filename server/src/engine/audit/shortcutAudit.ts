import type { ShortcutAuditResult, ShortcutCheck } from '../api';
import { decodeImage } from '../data/decode';
import { CxrError } from '../errors';
import { wilsonInterval } from '../eval/intervals';
import { upsampleBilinear } from '../explain/render/upsample';
import { argMax } from '../util/argMax';
import type { RunSession } from '../inference/runSession';
import { mapLimit, yieldToEventLoop } from '../util/concurrency';
import { Rng } from '../util/rng';
import { pearson, spearman } from './rankCorrelation';
import { areaShare, BORDER_HIDDEN, LUNG_FIELD, maskRegion, scaleRegion, shareInRegion, type Region } from './shortcutRegions';

export interface ShortcutAuditOptions {
  run: string;
  data: string;
  split: string;
  /** At most this many images for the heatmap checks (all images are used for the masked accuracies). */
  heatmapLimit?: number;
  /** Seed of the random head of the weight-randomisation check. */
  seed?: number;
  /** Overrides of the fixed regions (tests, and users whose framing differs); default LUNG_FIELD, BORDER_HIDDEN. */
  lungField?: Region;
  borderHidden?: Region;
  /** Scales both hidden regions about their centre (1: as documented; 0: nothing hidden). */
  regionScale?: number;
  /** Heads to compare the trained one with, each channels x classes like it (default: three Glorot-uniform draws). */
  randomKernels?: Float32Array[];
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Correlations above this say the heatmaps hardly depend on the trained head. */
export const RANDOMISATION_HIGH = 0.5;
/** Random heads drawn for the weight-randomisation check (their sign is arbitrary, so |correlation| is compared). */
const RANDOM_HEADS = 3;

/**
 * Shortcut audits of a trained run on labelled images: accuracy with the lung field hidden and with only the border
 * kept (Wilson intervals against the majority-class rate), the share of CAM energy inside the lung field, and the
 * weight-randomisation sanity check of the maps (Adebayo et al. 2018): the head's Dense kernel is replaced by a
 * Glorot-uniform random one (three draws) and each image's map for its predicted class is rank-correlated with the
 * trained one; the headline is the median absolute Spearman correlation (a random head's sign is arbitrary).
 * Only the head is re-initialised: the backbone's frozen layers are ImageNet's, not learned here.
 */
export async function shortcutAudit(session: RunSession, files: readonly string[], yTrue: readonly number[], opts: ShortcutAuditOptions): Promise<ShortcutAuditResult> {
  if (files.length === 0) throw new CxrError('DATASET_INVALID', 'No images to audit.');
  const size = session.loaded.config.imageSize;
  const classes = session.loaded.config.classes;
  const scale = opts.regionScale ?? 1;
  const lungField = opts.lungField ?? LUNG_FIELD;
  const lungsHidden = scaleRegion(lungField, scale);
  const borderHidden = scaleRegion(opts.borderHidden ?? BORDER_HIDDEN, scale);
  const pixels = size * size * 3;
  const heatmapN = Math.min(files.length, opts.heatmapLimit ?? 200);
  const total = files.length + heatmapN;

  const correct = { plain: 0, lungs: 0, border: 0 };
  const predicted = { plain: classes.map(() => 0), lungs: classes.map(() => 0), border: classes.map(() => 0) };
  const chunk = 16;
  for (let start = 0; start < files.length; start += chunk) {
    if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
    const part = files.slice(start, start + chunk);
    const images = await mapLimit(part, 4, async (f) => (await decodeImage(f, size)).data);
    for (const [key, region] of [['plain', null], ['lungs', lungsHidden], ['border', borderHidden]] as const) {
      const batch = new Float32Array(part.length * pixels);
      images.forEach((img, k) => batch.set(region ? maskRegion(img, size, region) : img, k * pixels));
      const probs = await session.classify(batch, part.length);
      probs.forEach((p, k) => {
        predicted[key][argMax(p)]++;
        if (argMax(p) === yTrue[start + k]) correct[key]++;
      });
    }
    opts.onProgress?.(Math.min(start + chunk, files.length), total);
    await yieldToEventLoop();
  }
  const n = files.length;
  const counts = classes.map((_, c) => yTrue.filter((y) => y === c).length);
  const majorityRate = Math.max(...counts) / n;
  const plainAccuracy = correct.plain / n;
  const checks: ShortcutCheck[] = [
    maskedCheck('lungs-masked', 'the lung field hidden', correct.lungs, predicted.lungs, n, majorityRate, plainAccuracy, classes.length, lungsHidden),
    maskedCheck('border-only', 'only the border kept', correct.border, predicted.border, n, majorityRate, plainAccuracy, classes.length, borderHidden),
  ];

  const shares: number[] = [];
  const spear: number[] = [];
  const pear: number[] = [];
  let randomKernels: Float32Array[] | null = opts.randomKernels ?? null;
  const rng = new Rng(opts.seed ?? 1);
  for (let i = 0; i < heatmapN; i++) {
    if (opts.signal?.aborted) throw new CxrError('CANCELLED', 'Cancelled.');
    const maps = await session.featureMaps((await decodeImage(files[i], size)).data);
    if (!maps) break;
    const { features, kernel, channels, height, width } = maps;
    if (!randomKernels) {
      const limit = Math.sqrt(6 / (channels + maps.classes));
      randomKernels = Array.from({ length: RANDOM_HEADS }, () => Float32Array.from({ length: kernel.length }, () => rng.uniform(-limit, limit)));
    }
    const c = argMax(maps.probabilities);
    const trained = classMap(features, kernel, channels, maps.classes, c);
    const relu = trained.map((v) => Math.max(0, v));
    const share = shareInRegion(upsampleBilinear(relu, width, height, size, size), size, lungField);
    if (Number.isFinite(share)) shares.push(share);
    for (const randomKernel of randomKernels) {
      const random = classMap(features, randomKernel, channels, maps.classes, c);
      const s = spearman(trained, random);
      const p = pearson(trained, random);
      if (Number.isFinite(s)) spear.push(s);
      if (Number.isFinite(p)) pear.push(p);
    }
    opts.onProgress?.(n + i + 1, total);
    if (i % 8 === 7) await yieldToEventLoop();
  }
  checks.push(energyCheck(shares, areaShare(lungField), lungField), randomisationCheck(spear, pear));
  return { run: opts.run, data: opts.data, split: opts.split, n, checks };
}

function maskedCheck(name: string, what: string, correct: number, predictedCounts: number[], n: number, majorityRate: number, plainAccuracy: number, k: number, hidden: Region): ShortcutCheck {
  const accuracy = correct / n;
  const ci = wilsonInterval(correct, n);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const above = ci.low > majorityRate;
  const sentence = `With ${what}, accuracy is ${pct(accuracy)} (95% CI ${pct(ci.low)}-${pct(ci.high)}, n=${n}) against ${pct(majorityRate)} by always guessing the commonest class and ${pct(plainAccuracy)} on the full images: ` +
    (above
      ? (name === 'lungs-masked'
        ? 'far above chance without the lungs, so the model (and the benchmark) can be right from what lies outside the lungs - the labels leak through the image source.'
        : 'above chance from the border alone, so the image\'s framing, markers or source carry the labels.')
      : 'not above chance, so this part of the image alone does not give the labels away.') +
    (Math.max(...predictedCounts) === n ? ' Every masked image got the same class: the masked images may simply be unlike anything the model knows, which limits what this shows.' : '');
  return {
    name,
    value: accuracy,
    details: { correct, n, accuracy, accuracyCi: ci, predictedCounts, majorityRate, chanceRate: 1 / k, plainAccuracy, hiddenRegion: hidden, aboveChance: above },
    sentence,
  };
}

function energyCheck(shares: number[], area: number, region: Region): ShortcutCheck {
  if (shares.length === 0) {
    return { name: 'lung-field-energy', value: null, details: { n: 0, region }, sentence: 'Not measured: the run\'s head is not pooling + Dense, so its class maps are not available from the forward pass.' };
  }
  const sorted = [...shares].sort((a, b) => a - b);
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
  const below = sorted.filter((s) => s < area).length;
  const sentence = `On average ${pct(mean)} of the heatmap's energy lies in the lung field, which covers ${pct(area)} of the image; ` +
    (mean > area + 0.1
      ? 'the heatmaps favour the lungs over the rest of the image.'
      : 'close to (or below) what a map spread evenly would put there, so the heatmaps do not show the model favouring the lungs over the rest of the image.');
  return {
    name: 'lung-field-energy',
    value: mean,
    details: { n: shares.length, mean, min: sorted[0], q25: q(0.25), median: q(0.5), q75: q(0.75), max: sorted[sorted.length - 1], areaShare: area, belowAreaShare: below, region },
    sentence,
  };
}

function randomisationCheck(spear: number[], pear: number[]): ShortcutCheck {
  if (spear.length === 0) {
    return { name: 'weight-randomisation', value: null, details: { n: 0 }, sentence: 'Not measured: no class maps from this run\'s head, or every map was constant.' };
  }
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const ms = median(spear.map(Math.abs));
  const high = ms >= RANDOMISATION_HIGH;
  const sentence = `With the head's weights replaced by random ones, the heatmaps keep a median absolute rank correlation of ${ms.toFixed(2)} with the trained model's: ` +
    (high
      ? 'high, so the maps mostly show what the frozen backbone sees in any image, not what this model learned; do not read them as its evidence.'
      : 'low, so the maps depend on what the model learned (a necessary, not sufficient, condition for trusting them).');
  return {
    name: 'weight-randomisation',
    value: ms,
    details: { pairs: spear.length, absSpearmanMedian: ms, spearmanMedian: median(spear), absPearsonMedian: pear.length ? median(pear.map(Math.abs)) : null, spearmanMin: Math.min(...spear), spearmanMax: Math.max(...spear), reinitialised: 'head Dense kernel (Glorot uniform)', threshold: RANDOMISATION_HIGH },
    sentence,
  };
}

/** Raw CAM of class c: sum_k W[k,c] A_k at every position of a (positions x channels) feature map. */
function classMap(features: Float32Array, kernel: Float32Array, channels: number, classes: number, c: number): Float32Array {
  const positions = features.length / channels;
  const out = new Float32Array(positions);
  for (let p = 0; p < positions; p++) {
    let sum = 0;
    const row = p * channels;
    for (let k = 0; k < channels; k++) sum += features[row + k] * kernel[k * classes + c];
    out[p] = sum;
  }
  return out;
}

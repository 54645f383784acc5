/**
 * The training form (viewType `cxr.trainingForm`): its values, its messages, and the one check of the values that both
 * the webview (as the user types) and the extension (before it sends cxr/train) run. Ranges and sentences come from
 * the engine's own (server/src/engine/trainingRanges.ts), so the form never accepts what the engine would refuse.
 */
import type { AugmentParams, TrainRequest } from '../../server/src/engine/api';
import { BACKBONE_IDS, BATCH_NORM_MODES, isOneOf, type BackboneId, type BatchNormMode } from '../../server/src/engine/names';
import { rangeProblem, type TrainingNumberField } from '../../server/src/engine/trainingRanges';
import type { BackboneTrainingOptions, TrainingOptions } from './protocol';

/** What the form holds. Numbers are kept as typed, so a half-typed or wrong value survives closing the form. */
export interface TrainingFormValues {
  /** A dataset folder or CSV manifest, as the Datasets view lists it. */
  dataset: string;
  backbone: BackboneId;
  /** A weights file; empty: the backbone's ImageNet weights as training finds them. */
  weights: string;
  freezeAt: string;
  epochs: string;
  batchSize: string;
  learningRate: string;
  momentum: string;
  augment: boolean;
  rotationDeg: string;
  widthShift: string;
  heightShift: string;
  zoom: string;
  valFraction: string;
  seed: string;
  batchNorm: BatchNormMode;
}

export type TrainingFormField = keyof TrainingFormValues;

export const NUMBER_FIELDS = [
  'epochs',
  'batchSize',
  'learningRate',
  'momentum',
  'valFraction',
  'seed',
  'rotationDeg',
  'widthShift',
  'heightShift',
  'zoom',
] as const satisfies readonly (TrainingFormField & TrainingNumberField)[];

const AUGMENT_FIELDS = ['rotationDeg', 'widthShift', 'heightShift', 'zoom'] as const;

export interface TrainingFormDataset {
  path: string;
  label: string;
  classes: string[];
  total: number;
}

export interface TrainingFormState {
  /** null until the backend has answered cxr/trainingOptions (then `loadError` may say why it did not). */
  options: TrainingOptions | null;
  datasets: TrainingFormDataset[];
  values: TrainingFormValues;
  /** Restricted Mode: the form can be filled in, but Start is disabled. */
  trusted: boolean;
  /** The run being trained right now, if any (one training at a time). */
  activeRun: string | null;
  /** The outcome of the last Start or of loading. */
  message: { kind: 'info' | 'error'; text: string } | null;
}

export type TrainingFormToWebview = { type: 'state'; state: TrainingFormState };

export type TrainingFormFromWebview =
  | { type: 'ready' }
  | { type: 'change'; values: TrainingFormValues }
  | { type: 'start'; values: TrainingFormValues }
  | { type: 'browseWeights'; values: TrainingFormValues }
  | { type: 'openDashboard' };

/** Stable element ids (used by the end-to-end tests too): `field(name)` is the input of a value. */
export const TrainingFormIds = {
  form: 'training-form',
  start: 'tf-start',
  reset: 'tf-reset',
  browseWeights: 'tf-browse-weights',
  message: 'tf-message',
  restricted: 'tf-restricted',
  summary: 'tf-summary',
  field: (name: TrainingFormField): string => `tf-${name}`,
  error: (name: TrainingFormField): string => `tf-${name}-error`,
} as const;

export const RESTRICTED_MODE_MESSAGE =
  'Training is disabled in Restricted Mode, because it writes run folders and runs long computations on files from this workspace. Trust the workspace to start a training; the form keeps what you enter.';

/** The recipe's values for `backbone` (the dataset and the weights file are kept). */
export function recipeValues(options: TrainingOptions, backbone: BackboneId, keep: Pick<TrainingFormValues, 'dataset' | 'weights'>): TrainingFormValues {
  const b = backboneOptions(options, backbone);
  const augment = b.recipe.augment ?? b.augmentWhenOn;
  return {
    dataset: keep.dataset,
    backbone: b.backbone,
    weights: keep.weights,
    freezeAt: b.defaultFreezeAt,
    epochs: String(b.recipe.epochs),
    batchSize: String(b.recipe.batchSize),
    learningRate: String(b.recipe.learningRate),
    momentum: String(b.recipe.momentum),
    augment: b.recipe.augment !== null,
    rotationDeg: String(augment.rotationDeg),
    widthShift: String(augment.widthShift),
    heightShift: String(augment.heightShift),
    zoom: String(augment.zoom),
    valFraction: String(options.valFraction),
    seed: String(options.seed),
    batchNorm: options.batchNorm,
  };
}

export function backboneOptions(options: TrainingOptions, backbone: string): BackboneTrainingOptions {
  return options.backbones.find((b) => b.backbone === backbone) ?? options.backbones[0];
}

/**
 * Remembered values made safe against today's options: unknown fields dropped, a backbone or freeze point that no
 * longer exists replaced by the default. Anything missing comes from `defaults`.
 */
export function mergeRemembered(saved: unknown, defaults: TrainingFormValues, options: TrainingOptions | null): TrainingFormValues {
  const out = { ...defaults };
  if (typeof saved !== 'object' || saved === null) return out;
  const s = saved as Record<string, unknown>;
  for (const key of Object.keys(defaults) as TrainingFormField[]) {
    const v = s[key];
    if (typeof v === typeof defaults[key]) (out as Record<string, unknown>)[key] = v;
  }
  if (!isOneOf(BACKBONE_IDS, out.backbone)) out.backbone = defaults.backbone;
  if (!isOneOf(BATCH_NORM_MODES, out.batchNorm)) out.batchNorm = defaults.batchNorm;
  if (options && !backboneOptions(options, out.backbone).freezePoints.includes(out.freezeAt)) out.freezeAt = backboneOptions(options, out.backbone).defaultFreezeAt;
  return out;
}

export interface FormCheck {
  /** One sentence per field that is wrong. */
  problems: Partial<Record<TrainingFormField, string>>;
  /** The request the values make (without `out`), when there is no problem. */
  request: Omit<TrainRequest, 'out'> | null;
}

/** Checks every value; the request is built only from values that passed. */
export function checkTrainingForm(values: TrainingFormValues, options: TrainingOptions | null, datasets: readonly TrainingFormDataset[]): FormCheck {
  const problems: Partial<Record<TrainingFormField, string>> = {};
  const numbers: Partial<Record<(typeof NUMBER_FIELDS)[number], number>> = {};
  for (const field of NUMBER_FIELDS) {
    if (!values.augment && (AUGMENT_FIELDS as readonly string[]).includes(field)) continue;
    const text = values[field].trim();
    if (text === '') {
      problems[field] = 'Enter a value.';
      continue;
    }
    const value = Number(text);
    const problem = rangeProblem(field, value);
    if (problem) problems[field] = Number.isNaN(value) ? `"${text}" is not a number. ${problem.message.replace(/ \(got NaN\)/, '')}` : problem.message;
    else numbers[field] = value;
  }
  if (!values.dataset) problems.dataset = datasets.length ? 'Choose a dataset.' : 'No dataset found: add a folder with train/<class>/ and test/<class>/ (or a CSV manifest) to the workspace or to cxr.dataRoots.';
  else if (datasets.length && !datasets.some((d) => d.path === values.dataset)) problems.dataset = `${values.dataset} is not among the datasets found; choose one from the list.`;
  if (!isOneOf(BACKBONE_IDS, values.backbone)) problems.backbone = `Choose one of ${BACKBONE_IDS.join(', ')}.`;
  if (options && !backboneOptions(options, values.backbone).freezePoints.includes(values.freezeAt)) {
    problems.freezeAt = `'${values.freezeAt}' is not a layer ${values.backbone} can be frozen at; choose one from the list.`;
  }
  if (!isOneOf(BATCH_NORM_MODES, values.batchNorm)) problems.batchNorm = `Choose one of ${BATCH_NORM_MODES.join(', ')}.`;
  if (Object.keys(problems).length > 0) return { problems, request: null };
  const augment: AugmentParams | false = values.augment
    ? { rotationDeg: numbers.rotationDeg!, widthShift: numbers.widthShift!, heightShift: numbers.heightShift!, zoom: numbers.zoom! }
    : false;
  const request: Omit<TrainRequest, 'out'> = {
    data: values.dataset,
    backbone: values.backbone,
    ...(values.weights.trim() ? { weights: values.weights.trim() } : {}),
    freezeAt: values.freezeAt,
    epochs: numbers.epochs,
    batchSize: numbers.batchSize,
    learningRate: numbers.learningRate,
    momentum: numbers.momentum,
    valFraction: numbers.valFraction,
    seed: numbers.seed,
    augment,
    batchNorm: values.batchNorm,
  };
  return { problems, request };
}

/**
 * The allowed range of every number a training takes, in one place: the engine enforces them (train/trainer.ts,
 * numbers.ts) and the training form in VS Code checks them as the user types, with the same sentences.
 * Pure data and arithmetic, no imports: the webview bundles it too.
 */

/** Inputs larger than this cost gigabytes per batch (activations grow with the square of the size). */
export const MAX_IMAGE_SIZE = 512;
export const MIN_IMAGE_SIZE = 32;
/** SGD learning rates beyond this only diverge; 0 or below never learns. */
export const MAX_LEARNING_RATE = 10;
/** Run configs with more are refused when read back (numbers.ts validateRunConfig). */
export const MAX_EPOCHS = 100_000;
export const MAX_BATCH_SIZE = 4096;
/** Augmentation: rotations beyond a half turn repeat; a shift of a whole image or a zoom of 1 leaves nothing to see. */
export const MAX_ROTATION_DEG = 180;

export type TrainingNumberField =
  | 'epochs'
  | 'batchSize'
  | 'learningRate'
  | 'momentum'
  | 'valFraction'
  | 'seed'
  | 'imageSize'
  | 'rotationDeg'
  | 'widthShift'
  | 'heightShift'
  | 'zoom';

export interface RangeProblem {
  field: TrainingNumberField;
  /** A sentence saying what is wrong, e.g. "The momentum must be a number in [0, 1) (got 1.5)." */
  message: string;
}

interface Range {
  what: string;
  integer: boolean;
  min: number;
  /** Whether min itself is allowed. */
  minIncluded: boolean;
  max: number;
  maxIncluded: boolean;
}

export const TRAINING_RANGES: Readonly<Record<TrainingNumberField, Range>> = {
  epochs: { what: 'number of epochs', integer: true, min: 1, minIncluded: true, max: MAX_EPOCHS, maxIncluded: true },
  batchSize: { what: 'batch size', integer: true, min: 1, minIncluded: true, max: MAX_BATCH_SIZE, maxIncluded: true },
  learningRate: { what: 'learning rate', integer: false, min: 0, minIncluded: false, max: MAX_LEARNING_RATE, maxIncluded: true },
  momentum: { what: 'momentum', integer: false, min: 0, minIncluded: true, max: 1, maxIncluded: false },
  valFraction: { what: 'validation fraction', integer: false, min: 0, minIncluded: true, max: 1, maxIncluded: false },
  seed: { what: 'seed', integer: true, min: 0, minIncluded: true, max: Number.MAX_SAFE_INTEGER, maxIncluded: true },
  imageSize: { what: 'image size', integer: true, min: MIN_IMAGE_SIZE, minIncluded: true, max: MAX_IMAGE_SIZE, maxIncluded: true },
  rotationDeg: { what: 'rotation', integer: false, min: 0, minIncluded: true, max: MAX_ROTATION_DEG, maxIncluded: true },
  widthShift: { what: 'width shift', integer: false, min: 0, minIncluded: true, max: 1, maxIncluded: false },
  heightShift: { what: 'height shift', integer: false, min: 0, minIncluded: true, max: 1, maxIncluded: false },
  zoom: { what: 'zoom', integer: false, min: 0, minIncluded: true, max: 1, maxIncluded: false },
};

/** "a number in (0, 10]", "a whole number from 1 to 4096". */
export function rangeText(field: TrainingNumberField): string {
  const r = TRAINING_RANGES[field];
  if (r.integer && r.minIncluded && r.maxIncluded) {
    return r.max === Number.MAX_SAFE_INTEGER ? `a whole number from ${r.min} up` : `a whole number from ${r.min} to ${r.max}`;
  }
  return `a number in ${r.minIncluded ? '[' : '('}${r.min}, ${r.max}${r.maxIncluded ? ']' : ')'}`;
}

/** The problem with one value, or null when it is in range. */
export function rangeProblem(field: TrainingNumberField, value: number): RangeProblem | null {
  const r = TRAINING_RANGES[field];
  const ok =
    Number.isFinite(value) &&
    (!r.integer || Number.isInteger(value)) &&
    (r.minIncluded ? value >= r.min : value > r.min) &&
    (r.maxIncluded ? value <= r.max : value < r.max);
  return ok ? null : { field, message: `The ${r.what} must be ${rangeText(field)} (got ${String(value)}).` };
}

/** What a training uses when a request leaves these out (the backbone's recipe gives the rest). */
export const TRAINING_DEFAULTS = Object.freeze({ valFraction: 0.1, seed: 42 });

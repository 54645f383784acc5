/**
 * How far a training is, in one place: the backend's work-done progress (shown by VS Code's notification) and the
 * dashboard's progress bar both use these, so they never disagree.
 */
import type { TrainEvent } from '../../server/src/engine/api';

export interface TrainingPosition {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
}

/** Percent of all batches of all epochs done, 0-100. */
export function trainingPercent(p: TrainingPosition): number {
  const total = Math.max(1, p.epochs * p.batches);
  const done = batchesDone(p);
  return Math.min(100, Math.max(0, (100 * done) / total));
}

/** Batches of all epochs done at a position (the batch itself included). */
export function batchesDone(p: TrainingPosition): number {
  return (p.epoch - 1) * p.batches + p.batch;
}

/**
 * Seconds left when `done` of `total` units are done, `startDone` of them were already done when the clock started
 * `elapsedMs` ago; undefined until there is enough to go on (two units and a second of work).
 */
export function etaSeconds(done: number, total: number, startDone: number, elapsedMs: number): number | undefined {
  const measured = done - startDone;
  if (measured < 2 || elapsedMs < 1000 || total <= 0) return undefined;
  return Math.max(0, ((elapsedMs / measured) * (total - done)) / 1000);
}

/** "45 s", "3 min 20 s", "1 h 05 min". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Percent of a counted phase (decoding, feature pass) done, or undefined when the phase has no counts. */
export function phasePercent(done: number | undefined, total: number | undefined): number | undefined {
  if (done === undefined || !total) return undefined;
  return Math.min(100, Math.max(0, (100 * done) / total));
}

/** The one-line progress message for an event, and the overall percent it implies (undefined: unchanged). */
export function progressOf(e: TrainEvent): { message: string; percent?: number } | undefined {
  switch (e.kind) {
    case 'batch':
      return { message: `Epoch ${e.epoch}/${e.epochs}, batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(4)}`, percent: trainingPercent(e) };
    case 'epoch': {
      const val = e.valAccuracy === null ? '' : `, val accuracy ${(e.valAccuracy * 100).toFixed(1)}%`;
      return { message: `Epoch ${e.epoch}/${e.epochs} done${val}`, percent: trainingPercent({ epoch: e.epoch, epochs: e.epochs, batch: 1, batches: 1 }) };
    }
    case 'phase': {
      const count = e.done !== undefined && e.total !== undefined ? ` (${e.done}/${e.total})` : '';
      return { message: `${e.message}${count}` };
    }
    case 'warning':
      return undefined;
  }
}

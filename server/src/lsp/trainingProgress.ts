import { randomUUID } from 'node:crypto';
import {
  WorkDoneProgressCreateRequest,
  type Connection,
  type ProgressToken,
  type WorkDoneProgressReporter,
} from 'vscode-languageserver/node';
import { progressOf } from '../../../common/src/trainingProgress';
import type { TrainEvent } from '../engine/api';

/** Work-done progress tokens of trainings in flight, each with the cancel it triggers. */
const cancellers = new Map<ProgressToken, () => void>();

/** Handles `window/workDoneProgress/cancel`; true when the token belonged to a training. */
export function cancelByProgressToken(token: ProgressToken): boolean {
  const cancel = cancellers.get(token);
  cancel?.();
  return cancel !== undefined;
}

const MIN_REPORT_INTERVAL_MS = 200;

/**
 * LSP work-done progress for one training: percent by batches over all epochs, a short message per phase, and a
 * Cancel button that cancels the training. Uses the client's token when the request carried one; otherwise creates
 * one (when the client supports it), so VS Code shows a cancellable notification.
 */
export class TrainingProgress {
  private lastPercent = -1;
  private lastReport = 0;

  private constructor(
    private readonly token: ProgressToken | null,
    private readonly reporter: WorkDoneProgressReporter | null,
  ) {}

  static async open(
    connection: Connection,
    clientToken: ProgressToken | undefined,
    canCreate: boolean,
    title: string,
    onCancel: () => void,
  ): Promise<TrainingProgress> {
    let token: ProgressToken | undefined = clientToken;
    if (token === undefined && canCreate) {
      try {
        const created = randomUUID();
        await connection.sendRequest(WorkDoneProgressCreateRequest.type, { token: created });
        token = created;
      } catch {
        // The client declined: train without a progress UI (cxr/trainEvent still reports everything).
      }
    }
    if (token === undefined) return new TrainingProgress(null, null);
    cancellers.set(token, onCancel);
    const reporter = connection.window.attachWorkDoneProgress(token);
    reporter.begin(title, 0, 'Preparing', true);
    return new TrainingProgress(token, reporter);
  }

  event(e: TrainEvent): void {
    const update = progressOf(e);
    if (!this.reporter || !update) return;
    // Phases and epochs always report (their messages matter); batches are throttled.
    this.report(update.percent ?? Math.max(this.lastPercent, 0), update.message, e.kind !== 'batch');
  }

  done(): void {
    if (this.token !== null) cancellers.delete(this.token);
    this.reporter?.done();
  }

  private report(percent: number, message: string, force = false): void {
    const now = Date.now();
    const rounded = Math.round(percent);
    if (!force && rounded === this.lastPercent && now - this.lastReport < MIN_REPORT_INTERVAL_MS) return;
    this.lastPercent = rounded;
    this.lastReport = now;
    this.reporter?.report(rounded, message);
  }
}

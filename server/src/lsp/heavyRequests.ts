/**
 * At most `limit` heavy requests (those that decode images or run a model: evaluate, predict, explain, audit) run
 * at once; the others wait their turn in order. Each can hold a few hundred megabytes (a 64 MP DICOM decodes to
 * ~0.5 GB), so four at once could push the backend past its memory; light requests (status, lists) never wait.
 */
export class HeavyRequestLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }
}

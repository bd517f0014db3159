/** Thrown when the wait queue is full (the service answers 503). */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/**
 * A fixed number of generation slots with a FIFO queue, like a GPU server's batch. A waiter whose
 * signal aborts leaves the queue without taking a slot.
 */
export class Slots {
  private busy = 0;
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void; signal?: AbortSignal }[] = [];

  constructor(
    readonly size: number,
    private readonly maxQueue: number,
  ) {}

  get inUse(): number {
    return this.busy;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.busy < this.size) {
      this.busy++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueue)
      throw new QueueFullError('all slots busy and the queue is full');
    await new Promise<void>((resolve, reject) => {
      const w = { resolve, reject, signal };
      this.waiting.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new Error('aborted while queued'));
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next.resolve();
      else this.busy--;
    };
  }
}

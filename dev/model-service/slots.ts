/** Gives a slot back; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

/**
 * A fixed number of generation slots with a FIFO wait queue, like a GPU server's batch. A waiter
 * whose signal aborts leaves the queue without taking a slot.
 */
export class Slots {
  private busy = 0;
  private highWater = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * @param size concurrent holders.
   * @param maxQueue waiters allowed beyond `size`; {@link Slots.full} is true past that.
   */
  constructor(
    readonly size: number,
    readonly maxQueue: number,
  ) {}

  /** Slots held now. */
  get inUse(): number {
    return this.busy;
  }

  /** Most slots ever held at once. */
  get peak(): number {
    return this.highWater;
  }

  /** Waiters in the queue now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** True when a new request would find every slot busy and the queue full. */
  get full(): boolean {
    return this.busy >= this.size && this.waiting.length >= this.maxQueue;
  }

  /**
   * Resolves with a release function once a slot is free (first come, first served). Rejects with
   * the signal's reason if it aborts while waiting, and at once if the queue is {@link Slots.full}.
   */
  acquire(signal: AbortSignal): Promise<ReleaseSlot> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (this.busy < this.size) {
      this.take();
      return Promise.resolve(this.releaser());
    }
    if (this.full) return Promise.reject(new Error('slot queue is full'));
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason as Error);
      };
      const waiter = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      this.waiting.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private take(): void {
    this.busy++;
    this.highWater = Math.max(this.highWater, this.busy);
  }

  private releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy--;
      const next = this.waiting.shift();
      if (next) {
        this.take();
        next();
      }
    };
  }
}

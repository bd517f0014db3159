import type { Response } from 'express';
import { ClientGoneError } from './errors';
import type { ServiceStats } from './stats';

/** One request being served; `signal` aborts when its client goes away or the service closes. */
export interface InFlightEntry {
  signal: AbortSignal;
  /** Marks the request done; call exactly once, in the same tick as its last write. */
  leave(): void;
}

/** The requests being served, so a client that leaves is noticed and `close()` can drain or abort. */
export class InFlight {
  private readonly active = new Set<AbortController>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly stats: ServiceStats) {}

  get size(): number {
    return this.active.size;
  }

  /** Starts tracking a request; its signal aborts with ClientGoneError when the connection closes. */
  enter(res: Response): InFlightEntry {
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort(new ClientGoneError());
    };
    res.on('close', onClose);
    // The client may have left while the body was read, before this listener existed.
    if (!res.socket || res.socket.destroyed) controller.abort(new ClientGoneError());
    this.active.add(controller);
    this.stats.in_flight = this.active.size;
    let left = false;
    return {
      signal: controller.signal,
      leave: () => {
        if (left) return;
        left = true;
        res.off('close', onClose);
        this.active.delete(controller);
        this.stats.in_flight = this.active.size;
        if (this.active.size === 0) this.wakeIdle();
      },
    };
  }

  /** Aborts every request being served with `reason`. */
  abortAll(reason: Error): void {
    for (const c of this.active) c.abort(reason);
  }

  /** Resolves true when nothing is in flight, or false after `timeoutMs` (no limit when omitted). */
  whenIdle(timeoutMs?: number): Promise<boolean> {
    if (this.active.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.idleWaiters.push(waiter);
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

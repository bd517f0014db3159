import type { RelayEntry, TokenRelay } from './token-relay';

/** Options of {@link RequestFollower.follow}. */
export interface FollowOptions {
  /** Resume after this stream id (SSE Last-Event-ID). @default 0-0 (from the start) */
  afterId?: string;
  /** Stops following (client gone, wait over). */
  signal: AbortSignal;
  /** The request's status if terminal, from PostgreSQL: the end when no `final` entry comes. */
  terminalStatus: () => Promise<string | undefined>;
}

/** How {@link RequestFollower.end} learnt the end: the end signal, or PostgreSQL when idle. */
export interface WaitEnd {
  status: string;
  by: 'signal' | 'postgres';
}

/** Options of {@link RequestFollower.end}. */
export interface EndOptions extends Omit<FollowOptions, 'afterId'> {
  /** The request was submitted just now, so it cannot have ended: the first read blocks. */
  fresh?: boolean;
}

/**
 * Follows one request until it is terminal: its token stream ({@link follow}) or only its end
 * ({@link end}). The `final` entry the orchestration worker appends ends it at once; when the stream
 * is idle (no entry for `idleCheckMs`, doubling while it stays idle, up to `maxIdleCheckMs`)
 * PostgreSQL is asked, so a request that finished before the client came, whose stream expired, or
 * whose `final` write was lost still ends. Each follower holds
 * a Redis connection of its own while it follows (blocking XREAD), taken from and given back to the
 * relay's idle readers.
 */
export class RequestFollower {
  constructor(
    private readonly o: {
      relay: TokenRelay;
      /** Idle time before the first PostgreSQL check. @default 1000 */
      idleCheckMs?: number;
      /**
       * Each check that finds the request still open doubles the idle time, up to this, so a client
       * waiting long in the queue asks PostgreSQL a few times, not once a second (10,000 waiting
       * clients were 10,000 reads/s); an end whose signal was lost is seen within this. @default 8000
       */
      maxIdleCheckMs?: number;
      /** Counts the PostgreSQL checks (`inference_wait_idle_checks_total`). */
      idleChecks?: { inc(): void };
    },
  ) {}

  private get firstIdle(): number {
    return this.o.idleCheckMs ?? 1000;
  }

  private nextIdle(block: number | undefined): number {
    const max = Math.max(this.firstIdle, this.o.maxIdleCheckMs ?? 8000);
    return block === undefined ? this.firstIdle : Math.min(max, block * 2);
  }

  private async check<T>(terminalStatus: () => Promise<T>): Promise<T> {
    this.o.idleChecks?.inc();
    return terminalStatus();
  }

  async *follow(requestId: string, opts: FollowOptions): AsyncGenerator<RelayEntry> {
    const { relay } = this.o;
    const reader = this.take(opts.signal);
    let after = opts.afterId ?? '0-0';
    let block: number | undefined; // the first read does not block: a late client gets the backlog at once
    try {
      while (!opts.signal.aborted) {
        const entries = await relay.read(requestId, after, block, reader.redis);
        for (const e of entries) {
          after = e.id;
          yield e;
          if (e.event.type === 'final') return;
        }
        if (entries.length === 0) {
          const status = await this.check(opts.terminalStatus);
          if (status) {
            // The final entry may have landed between the read and the check: read what is left.
            for (const e of await relay.read(requestId, after, undefined, reader.redis)) {
              after = e.id;
              yield e;
              if (e.event.type === 'final') return;
            }
            yield { id: after, event: { type: 'final', status } };
            return;
          }
          // Still open and silent: wait longer before asking again.
          block = this.nextIdle(block);
        } else {
          block = this.firstIdle;
        }
      }
    } catch (err) {
      if (!opts.signal.aborted) throw err;
    } finally {
      reader.give();
    }
  }

  /**
   * Waits for the request's end without reading its tokens: a blocking read of its end signal
   * (written with `final`) for `idleCheckMs`, doubling up to `maxIdleCheckMs`, then PostgreSQL, so an end whose signal was lost, or
   * was announced by a worker that writes no end signal, still ends the wait. Resolves to the
   * terminal status and what told it, or undefined once `signal` ends the wait.
   */
  async end(requestId: string, opts: EndOptions): Promise<WaitEnd | undefined> {
    const reader = this.take(opts.signal);
    let block = opts.fresh ? this.firstIdle : undefined;
    try {
      while (!opts.signal.aborted) {
        const signalled = await this.o.relay.readEnd(requestId, block, reader.redis);
        if (signalled) return { status: signalled, by: 'signal' };
        const status = await this.check(opts.terminalStatus);
        if (status) return { status, by: 'postgres' };
        block = this.nextIdle(block);
      }
    } catch (err) {
      if (!opts.signal.aborted) throw err;
    } finally {
      reader.give();
    }
    return undefined;
  }

  /**
   * A reader for one follower: `signal` cuts its blocked read by disconnecting it; `give` keeps it
   * for the next follower, unless it was cut.
   */
  private take(signal: AbortSignal) {
    const { relay } = this.o;
    const redis = relay.reader();
    const stop = (): void => redis.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    return {
      redis,
      give(): void {
        signal.removeEventListener('abort', stop);
        // Aborted: `stop` cut the connection. Otherwise no read is in flight here: keep it for the next.
        if (signal.aborted) redis.disconnect();
        else relay.releaseReader(redis);
      },
    };
  }
}

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

/**
 * Follows one request's token stream until it is terminal. The `final` entry the orchestration
 * worker appends ends it at once; when the stream is idle (no entry for `idleCheckMs`) PostgreSQL
 * is asked, so a request that finished before the client came, whose stream expired, or whose
 * `final` write was lost still ends. Each follower holds a Redis connection of its own while it
 * follows (blocking XREAD), taken from and given back to the relay's idle readers.
 */
export class RequestFollower {
  constructor(private readonly o: { relay: TokenRelay; idleCheckMs?: number }) {}

  async *follow(requestId: string, opts: FollowOptions): AsyncGenerator<RelayEntry> {
    const { relay } = this.o;
    const reader = relay.reader();
    const stop = (): void => reader.disconnect();
    opts.signal.addEventListener('abort', stop, { once: true });
    let after = opts.afterId ?? '0-0';
    let block: number | undefined; // the first read does not block: a late client gets the backlog at once
    try {
      while (!opts.signal.aborted) {
        const entries = await relay.read(requestId, after, block, reader);
        for (const e of entries) {
          after = e.id;
          yield e;
          if (e.event.type === 'final') return;
        }
        if (entries.length === 0) {
          const status = await opts.terminalStatus();
          if (status) {
            // The final entry may have landed between the read and the check: read what is left.
            for (const e of await relay.read(requestId, after, undefined, reader)) {
              after = e.id;
              yield e;
              if (e.event.type === 'final') return;
            }
            yield { id: after, event: { type: 'final', status } };
            return;
          }
        }
        block = this.o.idleCheckMs ?? 1000;
      }
    } catch (err) {
      if (!opts.signal.aborted) throw err;
    } finally {
      opts.signal.removeEventListener('abort', stop);
      // Aborted: `stop` cut the connection. Otherwise no read is in flight here: keep it for the next.
      if (opts.signal.aborted) reader.disconnect();
      else relay.releaseReader(reader);
    }
  }
}

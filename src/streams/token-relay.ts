import { Cluster, type Redis } from 'ioredis';
import type { AtRestSealer } from '../codec/at-rest-sealer';
import type { SealedPayload } from '../codec/payload-sealer';
import { StreamText } from './stream-text';

/**
 * What travels on a request's token stream. `attempt` opens each model attempt: one that `continues`
 * extends the text so far (a retried attempt that continues the cut-short answer), one that does not
 * starts the text again from nothing (see StreamText); `text` carries generated text, `end` closes
 * an attempt, and `final` says the request is terminal (its status, usage and output are in
 * PostgreSQL).
 */
export type RelayEvent =
  | { type: 'attempt'; attempt: number; continues?: boolean }
  | { type: 'text'; attempt: number; text: string }
  | { type: 'end'; attempt: number; finishReason: string; stopReason?: string }
  | { type: 'final'; status: string };

/** Whether stream id `a` comes before `b` (ids are `ms-seq`, compared as numbers). */
function idBefore(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am < bm || (am === bm && as < bs);
}

/** One stream entry: its Redis Stream id (also the SSE event id) and its event. */
export interface RelayEntry {
  id: string;
  event: RelayEvent;
}

/** Options of {@link TokenRelay}. */
export interface TokenRelayOptions {
  /** Redis (one server or a cluster): each stream key carries the request id as its hash tag. */
  redis: Redis | Cluster;
  /** Key prefix (REDIS_KEY_PREFIX). */
  prefix: string;
  /**
   * Seals `text` entries (generated output) with the payload keys when payload encryption is on;
   * CLEAR_AT_REST writes them in clear. Entries of either kind are read.
   */
  sealer: AtRestSealer;
  /** Seconds a stream is kept after its last write (STREAM_RETENTION_S). */
  retentionS: number;
  /**
   * Seconds the end signal is kept after the end: the waits it serves are already blocked on it
   * when it is written; a later wait (an idempotent replay) finds the end in PostgreSQL. A stream
   * key holds at least a 4 KiB node, so keeping it as long as the stream would double the relay's
   * memory. @default 60
   */
  endRetentionS?: number;
  /**
   * Least time between two writes of one attempt's text (see RelayWriter): a fast stream costs one
   * XADD per interval instead of one per token; the first piece and the end go out at once.
   * @default 0
   */
  writeIntervalMs?: number;
  /** Entries kept per stream (approximate trim). @default 20000 */
  maxLen?: number;
  /** Idle blocking-read connections kept for the next follower. @default 32 */
  maxIdleReaders?: number;
  /** An idle reader not taken again within this is closed. @default 10000 */
  readerIdleMs?: number;
}

type Reader = Redis | Cluster;

/** Field of an entry that holds its event in JSON (in clear). */
const CLEAR_FIELD = 'e';
/** Field of an entry that holds its event sealed (a sealed payload in JSON). */
const SEALED_FIELD = 's';

/**
 * Relays generated tokens from the GPU worker to API clients through Redis Streams: XADD per batch,
 * XREAD by id. Tokens never travel through Temporal history, which is built for durable decisions,
 * not for a write per token; a stream id doubles as the SSE `id`, so a client resumes with
 * Last-Event-ID. Best effort by design: the durable record of the output is PostgreSQL.
 */
export class TokenRelay {
  private readonly retentionS: number;
  private readonly maxLen: number;
  /** Readers between two followers, each with the timer that closes it when unused. */
  private readonly idle: { reader: Reader; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly o: TokenRelayOptions) {
    this.retentionS = o.retentionS;
    this.maxLen = o.maxLen ?? 20_000;
    // Idle readers are duplicates of this connection: they close with it (process or test shutdown).
    o.redis.on('end', () => {
      for (const { reader, timer } of this.idle.splice(0)) {
        clearTimeout(timer);
        reader.disconnect();
      }
    });
  }

  /** Least time between two writes of one attempt's text ({@link TokenRelayOptions.writeIntervalMs}). */
  get writeIntervalMs(): number {
    return this.o.writeIntervalMs ?? 0;
  }

  key(requestId: string): string {
    return `${this.o.prefix}:stream:{${requestId}}`;
  }

  /**
   * Key of the request's end signal: one entry, written with the stream's `final`. Same hash tag as
   * the stream, so both are written in one pipeline on a cluster too.
   */
  endKey(requestId: string): string {
    return `${this.o.prefix}:end:{${requestId}}`;
  }

  /** Appends events in order, in one round trip, and renews the stream's retention. */
  async append(requestId: string, events: RelayEvent[]): Promise<void> {
    if (events.length === 0) return;
    const key = this.key(requestId);
    // Only text carries output: the writer merges a write's pieces into one text event, so a
    // write of many tokens costs one seal.
    const fields = await Promise.all(
      events.map(async (e): Promise<[string, string]> => {
        const sealed = e.type === 'text' ? await this.o.sealer.sealOrSkip(e) : undefined;
        return sealed ? [SEALED_FIELD, JSON.stringify(sealed)] : [CLEAR_FIELD, JSON.stringify(e)];
      }),
    );
    const pipe = this.o.redis.pipeline();
    for (const [field, value] of fields) pipe.xadd(key, 'MAXLEN', '~', this.maxLen, '*', field, value);
    await this.exec(pipe.expire(key, this.retentionS));
  }

  /**
   * Appends one event alone and returns its stream id: a continuing attempt opens with it, then reads
   * what readers were shown before it ({@link textBefore}).
   */
  async appendOne(requestId: string, event: RelayEvent): Promise<string> {
    const key = this.key(requestId);
    const sealed = event.type === 'text' ? await this.o.sealer.sealOrSkip(event) : undefined;
    const [field, value] = sealed
      ? [SEALED_FIELD, JSON.stringify(sealed)]
      : [CLEAR_FIELD, JSON.stringify(event)];
    const results = await this.o.redis
      .pipeline()
      .xadd(key, 'MAXLEN', '~', this.maxLen, '*', field, value)
      .expire(key, this.retentionS)
      .exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    return String(results![0]![1]);
  }

  /**
   * The text the stream showed its readers before entry `id` (StreamText's rules), and whether the
   * stream still holds its start (an expired or trimmed stream has lost it: the text is then unknown).
   */
  async textBefore(requestId: string, id: string): Promise<{ text: string; complete: boolean }> {
    const view = new StreamText(true);
    let after = '0-0';
    let first = true;
    let complete = false;
    for (;;) {
      const entries = await this.read(requestId, after);
      if (entries.length === 0) return { text: view.text, complete };
      for (const e of entries) {
        if (first) complete = e.event.type === 'attempt';
        first = false;
        if (!idBefore(e.id, id)) return { text: view.text, complete };
        view.apply(e.event);
        after = e.id;
      }
    }
  }

  /**
   * Says the request is terminal, in one round trip: the `final` entry of its token stream (for
   * followers of the tokens) and its end signal (for clients that wait only for the end: one
   * blocking read in all instead of one per batch of tokens, see {@link readEnd}).
   */
  async announceEnd(requestId: string, status: string): Promise<void> {
    const key = this.key(requestId);
    const end = this.endKey(requestId);
    const e = JSON.stringify({ type: 'final', status } satisfies RelayEvent);
    await this.exec(
      this.o.redis
        .pipeline()
        .xadd(key, 'MAXLEN', '~', this.maxLen, '*', 'e', e)
        .expire(key, this.retentionS)
        .xadd(end, '*', 'e', e)
        .expire(end, this.o.endRetentionS ?? 60),
    );
  }

  private async exec(pipe: ReturnType<Redis['pipeline']>): Promise<void> {
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  /**
   * Entries after `afterId` (`0-0` for all). With `blockMs`, waits up to that long for new ones;
   * blocking needs a connection of its own (see {@link reader}).
   */
  async read(
    requestId: string,
    afterId: string,
    blockMs?: number,
    redis = this.o.redis,
  ): Promise<RelayEntry[]> {
    return this.xread(this.key(requestId), afterId, 1000, blockMs, redis);
  }

  /**
   * The request's terminal status from its end signal ({@link announceEnd}), waiting up to `blockMs`
   * for it (none: no wait); undefined while it has none.
   */
  async readEnd(requestId: string, blockMs?: number, redis = this.o.redis): Promise<string | undefined> {
    const [entry] = await this.xread(this.endKey(requestId), '0-0', 1, blockMs, redis);
    return entry?.event.type === 'final' ? entry.event.status : undefined;
  }

  private async xread(
    key: string,
    afterId: string,
    count: number,
    blockMs: number | undefined,
    redis: Redis | Cluster,
  ): Promise<RelayEntry[]> {
    const args: (string | number)[] = ['COUNT', count];
    if (blockMs !== undefined) args.push('BLOCK', blockMs);
    const reply = (await redis.call('XREAD', ...args, 'STREAMS', key, afterId)) as
      [string, [string, string[]][]][] | null;
    if (!reply) return [];
    return Promise.all(reply[0]![1].map(async ([id, fields]) => ({ id, event: await this.event(fields) })));
  }

  /** An entry's event, opened when it was sealed. */
  private async event(fields: string[]): Promise<RelayEvent> {
    if (fields[0] === SEALED_FIELD)
      return this.o.sealer.openSealed<RelayEvent>(JSON.parse(fields[1]!) as SealedPayload);
    const event = JSON.parse(fields[1]!) as RelayEvent;
    // Text in clear: written with encryption off, or by an earlier version (counted).
    return event.type === 'text' ? this.o.sealer.open('token_streams', event) : event;
  }

  /**
   * A connection for blocking reads: an idle one if any (no connect and handshake on the request's
   * path), else a new one. The caller gives it back with {@link releaseReader} once no read is in
   * flight, or disconnects it (which is how a blocked read is cut short). Its errors are surfaced by
   * the read that fails, never as an unhandled 'error' event.
   */
  reader(): Reader {
    const kept = this.idle.pop();
    if (kept) {
      clearTimeout(kept.timer);
      return kept.reader;
    }
    const r =
      this.o.redis instanceof Cluster
        ? this.o.redis.duplicate()
        : this.o.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    return r;
  }

  /** Keeps a reader with no read in flight for the next follower; closes it if it is not healthy. */
  releaseReader(reader: Reader): void {
    if (reader.status !== 'ready' || this.idle.length >= (this.o.maxIdleReaders ?? 32)) {
      reader.disconnect();
      return;
    }
    const entry = {
      reader,
      timer: setTimeout(() => {
        this.idle.splice(this.idle.indexOf(entry), 1);
        reader.disconnect();
      }, this.o.readerIdleMs ?? 10_000),
    };
    entry.timer.unref();
    this.idle.push(entry);
  }
}

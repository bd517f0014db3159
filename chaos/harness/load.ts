import { randomUUID } from 'node:crypto';
import { between, call, chance, sleep, type Answer } from './http';

/** A request the API accepted (202/200, or an OpenAI answer carrying its X-Request-Id). */
export interface Tracked {
  id: string;
  kind: 'native' | 'chat' | 'chat_stream';
  idemKey?: string;
  webhook: boolean;
  /** A cancel was sent, or a stream was closed early (disconnect = cancel). */
  cancelSent: boolean;
}

const TERMINAL = ['completed', 'failed', 'cancelled', 'rejected'];
const WORDS = ['durable', 'tokens', 'tenant', 'queue', 'retry', 'ledger', 'stream', 'quota', 'replay'];

function prompt(): string {
  const words = Array.from({ length: between(3, 30) }, () => WORDS[between(0, WORDS.length - 1)]);
  return `${words.join(' ')}${chance(0.3) ? ` [[stop:${between(1, 12)}]]` : ''}`;
}

/**
 * Sustained load through the API from `concurrency` virtual clients: native submits (some waited on
 * with `Prefer: wait`, some cancelled at a random moment, some with a webhook_url), OpenAI chat
 * completions plain and streaming (some closed early), Idempotency-Key on some of each with re-sends
 * of the same key, which must name the same request.
 */
export class LoadDriver {
  readonly tracked = new Map<string, Tracked>();
  /** Answers by `<kind> <status>` (`network` for a network error or timeout). */
  readonly counts: Record<string, number> = {};
  readonly idemMismatches: { key: string; first: string; again: string }[] = [];
  idemResends = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly api: string,
    private readonly key: string,
    private readonly webhookUrl: string,
    private readonly concurrency: number,
    private readonly requestDeadlineMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, async () => {
      while (this.running) {
        const r = Math.random();
        try {
          if (r < 0.45) await this.native();
          else if (r < 0.7) await this.chat();
          else await this.chatStream();
        } catch (err) {
          this.count('client', `error ${(err as Error).message.slice(0, 60)}`);
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private count(kind: string, what: string | number): void {
    const k = `${kind} ${what}`;
    this.counts[k] = (this.counts[k] ?? 0) + 1;
  }

  private track(t: Tracked): Tracked {
    const known = this.tracked.get(t.id);
    if (known) return known;
    this.tracked.set(t.id, t);
    return t;
  }

  private checkSame(key: string, first: string | undefined, again: string | undefined): void {
    this.idemResends++;
    if (first && again !== first) this.idemMismatches.push({ key, first, again: again ?? '(none)' });
  }

  /** Sends a submit; with a key, re-sends it (same key, same body) on a network error or 5xx/409. */
  private async submit(
    kind: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<Answer | undefined> {
    const keyed = 'Idempotency-Key' in headers;
    for (let attempt = 0; attempt < 8 && this.running; attempt++) {
      let res: Answer;
      try {
        res = await call(this.api, 'POST', path, { key: this.key, body, headers, timeoutMs });
      } catch {
        this.count(kind, 'network');
        if (!keyed) return undefined; // outcome unknown: the checks find such requests in PostgreSQL
        await sleep(1000);
        continue;
      }
      this.count(kind, res.status);
      if (keyed && (res.status >= 500 || res.status === 409) && !res.headers.get('x-request-id')) {
        await sleep(1000);
        continue;
      }
      if (res.status === 429) await sleep(between(200, 800));
      return res;
    }
    return undefined;
  }

  private async native(): Promise<void> {
    const idemKey = chance(0.3) ? `chaos-${randomUUID()}` : undefined;
    const webhook = chance(0.35);
    const wait = chance(0.1);
    // A request to cancel runs long enough (0.6-3 s of decoding) for the cancel to land mid-generation.
    const cancel = !wait && chance(0.15);
    const body = {
      model: 'ref-small',
      prompt: prompt(),
      max_tokens: cancel ? between(300, 1500) : between(8, 64),
      ...(webhook ? { webhook_url: this.webhookUrl } : {}),
    };
    const headers: Record<string, string> = {
      ...(idemKey ? { 'Idempotency-Key': idemKey } : {}),
      ...(wait ? { Prefer: 'wait=10' } : {}),
    };
    const res = await this.submit('native', '/v1/inference', body, headers, 20_000);
    if (!res || (res.status !== 202 && res.status !== 200)) return;
    const t = this.track({ id: res.body.id, kind: 'native', idemKey, webhook, cancelSent: false });
    if (idemKey && chance(0.5)) {
      const again = await this.submit('native-resend', '/v1/inference', body, headers, 20_000);
      if (again) this.checkSame(idemKey, t.id, again.body?.id);
    }
    if (res.status === 200) return;
    if (cancel) {
      await sleep(between(0, 1500));
      const c = await call(this.api, 'POST', `/v1/inference/${t.id}/cancel`, { key: this.key }).catch(
        () => undefined,
      );
      this.count('cancel', c?.status ?? 'network');
      if (c?.status === 202) t.cancelSent = true;
    }
    await this.awaitTerminal(t.id);
  }

  private async awaitTerminal(id: string): Promise<void> {
    const deadline = Date.now() + this.requestDeadlineMs + 30_000;
    while (Date.now() < deadline) {
      const r = await call(this.api, 'GET', `/v1/inference/${id}`, { key: this.key }).catch(() => undefined);
      if (r?.status === 200 && TERMINAL.includes(r.body.status)) return;
      await sleep(500);
    }
    this.count('native', 'not terminal in time (client)');
  }

  private async chat(): Promise<void> {
    const idemKey = chance(0.4) ? `chaos-${randomUUID()}` : undefined;
    const body = {
      model: 'ref-small',
      messages: [{ role: 'user', content: prompt() }],
      max_tokens: between(8, 64),
    };
    // Without a key, a disconnect would cancel: this client wants its request to survive an API crash.
    const headers: Record<string, string> = idemKey
      ? { 'Idempotency-Key': idemKey }
      : { 'X-Cancel-On-Disconnect': 'false' };
    const timeout = this.requestDeadlineMs + 30_000;
    const res = await this.submit('chat', '/v1/chat/completions', body, headers, timeout);
    const id = res?.headers.get('x-request-id') ?? undefined;
    if (!res || !id) return;
    this.track({ id, kind: 'chat', idemKey, webhook: false, cancelSent: false });
    if (idemKey && chance(0.3)) {
      const again = await this.submit('chat-resend', '/v1/chat/completions', body, headers, timeout);
      if (again) this.checkSame(idemKey, id, again.headers.get('x-request-id') ?? undefined);
    }
  }

  private async chatStream(): Promise<void> {
    const idemKey = chance(0.3) ? `chaos-${randomUUID()}` : undefined;
    const closeEarly = !idemKey && chance(0.15);
    const body = {
      model: 'ref-small',
      messages: [{ role: 'user', content: prompt() }],
      max_tokens: closeEarly ? between(300, 800) : between(8, 64),
      stream: true,
      stream_options: { include_usage: true },
    };
    let first: string | undefined;
    for (let attempt = 0; attempt < 8 && this.running; attempt++) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), this.requestDeadlineMs + 30_000);
      try {
        const res = await fetch(`${this.api}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.key}`,
            'content-type': 'application/json',
            ...(idemKey ? { 'Idempotency-Key': idemKey } : {}),
          },
          body: JSON.stringify(body),
          signal: ac.signal,
        });
        this.count('stream', res.status);
        const id = res.headers.get('x-request-id') ?? undefined;
        if (res.status !== 200 || !id) {
          await res.text().catch(() => undefined);
          if (res.status === 429) await sleep(between(200, 800));
          if (idemKey && res.status >= 500) {
            await sleep(1000);
            continue;
          }
          return;
        }
        if (first) this.checkSame(idemKey!, first, id);
        first ??= id;
        const t = this.track({ id, kind: 'chat_stream', idemKey, webhook: false, cancelSent: false });
        const stopAfter = closeEarly ? between(1, 6) : Infinity;
        let chunks = 0;
        let done = false;
        const decoder = new TextDecoder();
        for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
          const text = decoder.decode(part);
          chunks += (text.match(/^data: /gm) ?? []).length;
          if (text.includes('data: [DONE]')) done = true;
          if (!done && chunks >= stopAfter) {
            t.cancelSent = true;
            ac.abort();
            this.count('stream', 'closed early');
            return;
          }
        }
        this.count('stream', done ? 'done' : 'ended without [DONE]');
        if (done || !idemKey) return;
      } catch {
        this.count('stream', 'network');
        if (!idemKey) return;
        await sleep(1000);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

import type { StackChild } from './private-stack';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readyz(c: StackChild): Promise<number> {
  return fetch(`${c.url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.status,
    () => 0,
  );
}

/** Resolves once every process's /readyz answers 200. */
export async function waitAllReady(children: StackChild[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(children.map(readyz));
    if (statuses.every((s) => s === 200)) return;
    if (Date.now() > deadline)
      throw new Error(
        `not ready after ${timeoutMs} ms: ${children.map((c, i) => `${c.name}=${statuses[i]}`).join(' ')}`,
      );
    await sleep(100);
  }
}

/** Polls /readyz of each process every 100 ms and keeps the timeline. */
export class ReadyzWatch {
  private readonly seen = new Map<string, { at: number; status: number }[]>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly children: StackChild[]) {
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(
          children.map(async (c) => {
            const status = await readyz(c);
            const list = this.seen.get(c.name) ?? [];
            list.push({ at: Date.now(), status });
            this.seen.set(c.name, list);
          }),
        );
        await sleep(100);
      }
    })();
  }

  /** Resolves once each of `children` has answered `status` (or throws after `timeoutMs`). */
  async waitStatus(children: StackChild[], status: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!children.every((c) => this.saw(c.name, status))) {
      if (Date.now() > deadline)
        throw new Error(`not all of ${children.map((c) => c.name).join(', ')} answered ${status}`);
      await sleep(50);
    }
  }

  saw(name: string, status: number): boolean {
    return (this.seen.get(name) ?? []).some((s) => s.status === status);
  }

  /** From the first 503 to the next 200. */
  notReadyMs(name: string): number | null {
    const list = this.seen.get(name) ?? [];
    const first = list.findIndex((s) => s.status === 503);
    if (first < 0) return null;
    const back = list.slice(first).find((s) => s.status === 200);
    return back ? back.at - list[first]!.at : null;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

interface Answer {
  status: number;
  at: number;
  retryAfter: string | null;
  body: string;
}

/** Submits requests from a few concurrent clients until stopped, as a client would during an outage. */
export class SubmitBurst {
  readonly accepted: { id: string; at: number }[] = [];
  readonly refused: Answer[] = [];
  readonly unexpected: Answer[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly apiUrl: string,
    private readonly apiKey: string,
    private readonly clients = 3,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.clients }, async () => {
      while (this.running) {
        await this.submitOne();
        await sleep(100);
      }
    });
  }

  private async submitOne(): Promise<void> {
    const at = Date.now();
    try {
      const res = await fetch(`${this.apiUrl}/v1/inference`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}` },
        body: JSON.stringify({ model: 'ref-small', prompt: 'survive the restart', max_tokens: 16 }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = await res.text();
      const answer = { status: res.status, at, retryAfter: res.headers.get('retry-after'), body };
      if (res.status === 202) this.accepted.push({ id: (JSON.parse(body) as { id: string }).id, at });
      else if (res.status === 503 && answer.retryAfter) this.refused.push(answer);
      else this.unexpected.push(answer);
    } catch (err) {
      this.unexpected.push({ status: 0, at, retryAfter: null, body: String(err) });
    }
  }

  async waitAccepted(n: number, timeoutMs = 30_000): Promise<void> {
    return this.waitAcceptedSince(0, n, timeoutMs);
  }

  async waitAcceptedSince(since: number, n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.filter((a) => a.at >= since).length < n) {
      if (Date.now() > deadline)
        throw new Error(
          `fewer than ${n} requests accepted; refused: ${this.refused.length}, unexpected: ${JSON.stringify(this.unexpected.slice(0, 3))}`,
        );
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Polls each accepted request until it is terminal; returns the statuses. */
  async waitAllFinished(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    return Promise.all(
      this.accepted.map(async ({ id }) => {
        for (;;) {
          const res = await fetch(`${this.apiUrl}/v1/inference/${id}`, {
            headers: { authorization: `Bearer ${this.apiKey}` },
          }).catch(() => undefined);
          const status = res?.ok ? ((await res.json()) as { status: string }).status : 'unknown';
          if (['completed', 'failed', 'cancelled', 'rejected'].includes(status)) return status;
          if (Date.now() > deadline) return `${id} still ${status}`;
          await sleep(200);
        }
      }),
    );
  }
}

import { scriptFaults, startStack, type Stack } from '../support/stack';
import { streamMetrics } from '../../src/streams/stream-metrics';

/** GET /v1/inference/:id/stream (SSE through the Redis token relay) and `Prefer: wait=N`. */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ modelService: { decodeMsPerToken: 2 } });
});
afterAll(() => s?.stop());

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response until it closes, or until `stopAfter` returns true (then aborts). */
async function readSse(
  id: string,
  opts: { lastEventId?: string; stopAfter?: (e: SseEvent[]) => boolean } = {},
): Promise<{ events: SseEvent[]; firstTokenMs: number }> {
  const ac = new AbortController();
  const t0 = Date.now();
  const res = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: {
      authorization: `Bearer ${s.apiKey}`,
      ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}),
    },
    signal: ac.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events: SseEvent[] = [];
  let firstTokenMs = NaN;
  let buf = '';
  const decoder = new TextDecoder();
  try {
    for await (const bytes of res.body!) {
      buf += decoder.decode(bytes as Uint8Array, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (frame.startsWith(':')) continue;
        const e: SseEvent = { event: 'message', data: {} };
        for (const line of frame.split('\n')) {
          const [k, ...v] = line.split(': ');
          if (k === 'id') e.id = v.join(': ');
          if (k === 'event') e.event = v.join(': ');
          if (k === 'data') e.data = JSON.parse(v.join(': ')) as Record<string, unknown>;
        }
        if (e.event === 'token' && Number.isNaN(firstTokenMs)) firstTokenMs = Date.now() - t0;
        events.push(e);
        if (opts.stopAfter?.(events)) {
          ac.abort();
          return { events, firstTokenMs };
        }
      }
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  }
  return { events, firstTokenMs };
}

const text = (events: SseEvent[]): string =>
  events
    .filter((e) => e.event === 'token')
    .map((e) => e.data.text as string)
    .join('');

test('a live stream carries the tokens as produced, then a done event with status and usage', async () => {
  const id = await s.submit('stream live', 300);
  const { events, firstTokenMs } = await readSse(id);
  const done = await s.waitFinished(id);
  expect(events[0]).toMatchObject({ event: 'attempt', data: { attempt: 1, restarted: false } });
  expect(events.filter((e) => e.event === 'token').length).toBeGreaterThan(1);
  expect(text(events)).toBe(done.output);
  expect(events.at(-1)).toMatchObject({
    event: 'done',
    data: { id, status: 'completed', usage: done.usage },
  });
  // Streamed as produced, not in one piece at the end (speed is for bench:stream, not for a test).
  expect(Number.isFinite(firstTokenMs)).toBe(true);
});

test('a fast stream is written in batches (STREAM_WRITE_INTERVAL_MS), not one Redis entry per token', async () => {
  const id = await s.submit('stream batched', 300);
  const done = await s.waitFinished(id);
  const entries = await s.node.redis.xrange(`${s.cfg.REDIS_KEY_PREFIX}:stream:{${id}}`, '-', '+');
  const events = entries.map(([, fields]) => JSON.parse(fields[1]!) as { type: string; text?: string });
  const texts = events.filter((e) => e.type === 'text');
  expect(done.usage.completion_tokens).toBe(300);
  // 300 tokens at 2 ms each, at most one write per 20 ms after the first piece: about 30 entries.
  expect(texts.length).toBeGreaterThan(1);
  expect(texts.length).toBeLessThan(100);
  expect(texts.map((e) => e.text).join('')).toBe(done.output);
  expect(events.map((e) => e.type).filter((t) => t !== 'text')).toEqual(['attempt', 'end', 'final']);
});

test('a late client gets everything produced so far; Last-Event-ID resumes after the last event seen', async () => {
  const id = await s.submit('stream late', 200);
  const first = await readSse(id, { stopAfter: (e) => e.filter((x) => x.event === 'token').length >= 3 });
  const lastId = first.events.at(-1)!.id!;
  expect(lastId).toMatch(/^\d+-\d+$/);
  const rest = await readSse(id, { lastEventId: lastId });
  const done = await s.waitFinished(id);
  expect(text(first.events) + text(rest.events)).toBe(done.output);
  expect(rest.events.some((e) => e.event === 'attempt')).toBe(false);
  const late = await readSse(id);
  expect(text(late.events)).toBe(done.output);
  expect(late.events.at(-1)!.event).toBe('done');
});

test('a retried attempt is announced on the stream; it continues the (empty) text, never duplicated', async () => {
  await scriptFaults(s, [{ kind: 'status', status: 500, count: 1 }]);
  const id = await s.submit('stream retried', 50);
  const { events } = await readSse(id);
  const done = await s.waitFinished(id);
  expect(done).toMatchObject({ status: 'completed', attempts: 2 });
  const attempts = events.filter((e) => e.event === 'attempt').map((e) => e.data);
  expect(attempts).toEqual([
    { attempt: 1, restarted: false },
    // Attempt 1 failed before any token: attempt 2 continues an empty answer, no restart marker.
    { attempt: 2, restarted: false, continued: true },
  ]);
  const afterRestart = events.slice(events.findIndex((e) => e.data.attempt === 2 && e.event === 'attempt'));
  expect(text(afterRestart)).toBe(done.output);
  await scriptFaults(s, []);
});

test('a stream of another tenant is not found', async () => {
  const id = await s.submit('mine', 4);
  const res = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: { authorization: 'Bearer nope' },
  });
  expect(res.status).toBe(401);
  const other = `sk-other-${Date.now()}`;
  await s.tenants.ensure({ id: `other-${id.slice(4, 12)}`, name: 'other', tier: 'free' });
  await s.tenants.addApiKey(`other-${id.slice(4, 12)}`, other);
  const res2 = await fetch(`${s.apiUrl}/v1/inference/${id}/stream`, {
    headers: { authorization: `Bearer ${other}` },
  });
  expect(res2.status).toBe(404);
});

test('Prefer: wait=N answers 200 with the finished request, or 202 when it takes longer; it runs on', async () => {
  const endsBySignal = async (): Promise<number> =>
    (await streamMetrics(s.metrics.registry).waitEnds.get()).values.find((v) => v.labels.by === 'signal')
      ?.value ?? 0;
  const signalled = await endsBySignal();
  const quick = await fetch(`${s.apiUrl}/v1/inference`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json', prefer: 'wait=10' },
    body: JSON.stringify({ model: 'ref-small', prompt: 'quick [[stop:3]]', max_tokens: 16 }),
  });
  expect(quick.status).toBe(200);
  expect(quick.headers.get('preference-applied')).toBe('wait=10');
  const body = (await quick.json()) as { id: string; status: string; usage: { completion_tokens: number } };
  expect(body).toMatchObject({ status: 'completed', usage: { completion_tokens: 3 } });
  // Told by the orchestration worker's end signal, not by the one-second PostgreSQL check.
  expect(await endsBySignal()).toBe(signalled + 1);

  const t0 = Date.now();
  const slow = await fetch(`${s.apiUrl}/v1/inference`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json', prefer: 'wait=1' },
    body: JSON.stringify({ model: 'ref-small', prompt: 'slow', max_tokens: 1500 }),
  });
  const waited = Date.now() - t0;
  expect(slow.status).toBe(202);
  expect(waited).toBeGreaterThanOrEqual(900);
  const id = ((await slow.json()) as { id: string }).id;
  expect((await s.waitFinished(id)).status).toBe('completed');
});

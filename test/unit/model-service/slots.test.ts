import { Slots } from '../../../dev/model-service/slots';
import { getTokenizer } from '../../../src/tokenizer/tokenizer';
import { startService, waitFor, type Running } from './helpers';

describe('Slots', () => {
  const signal = (): AbortSignal => new AbortController().signal;

  test('grants up to size at once, then first come first served', async () => {
    const slots = new Slots(2, 10);
    const r1 = await slots.acquire(signal());
    await slots.acquire(signal());
    const order: number[] = [];
    const waiting = [3, 4, 5].map((n) => slots.acquire(signal()).then((release) => (order.push(n), release)));
    expect(slots).toMatchObject({ inUse: 2, queued: 3 });
    r1();
    r1(); // releasing twice gives back one slot only
    const r3 = await waiting[0]!;
    expect(slots).toMatchObject({ inUse: 2, queued: 2, peak: 2 });
    r3();
    await waiting[1];
    expect(order).toEqual([3, 4]);
  });

  test('a waiter that aborts leaves the queue with the signal reason; a full queue rejects', async () => {
    const slots = new Slots(1, 1);
    const release = await slots.acquire(signal());
    const ac = new AbortController();
    const waiting = slots.acquire(ac.signal);
    expect(slots.full).toBe(true);
    await expect(slots.acquire(signal())).rejects.toThrow(/full/);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(slots).toMatchObject({ inUse: 1, queued: 0, full: false });
    release();
    expect(slots.inUse).toBe(0);
  });
});

let m: Running;
afterEach(async () => {
  await m?.stop();
});

test('with 2 slots and 4 concurrent requests, at most 2 generate at once and the rest queue', async () => {
  m = await startService({ slots: 2, decodeMsPerToken: 5 });
  const seen = { busy: 0, queued: 0 };
  let done = false;
  const poll = (async () => {
    while (!done) {
      const h = await m.get('/health');
      seen.busy = Math.max(seen.busy, h.busy);
      seen.queued = Math.max(seen.queued, h.queued);
    }
  })();
  const answers = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      m.post('/v1/completions', { model: 'ref-small', prompt: `p${i}`, max_tokens: 30 }),
    ),
  );
  done = true;
  await poll;
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  expect(seen.busy).toBe(2);
  expect(seen.queued).toBeGreaterThanOrEqual(1);
  expect(await m.stats()).toMatchObject({ peak_busy: 2, by_status: { 200: 4 }, in_flight: 0 });
});

test('queued requests are served in arrival order', async () => {
  m = await startService({ slots: 1, decodeMsPerToken: 5 });
  const finished: string[] = [];
  const send = async (name: string, maxTokens: number): Promise<void> => {
    const r = await m.post('/v1/completions', { model: 'ref-small', prompt: name, max_tokens: maxTokens });
    expect(r.status).toBe(200);
    finished.push(name);
  };
  // `a` holds the only slot long enough for b, c and d to queue one after the other.
  const all = [send('a', 100)];
  await waitFor(async () => (await m.get('/health')).busy === 1);
  for (const [i, name] of ['b', 'c', 'd'].entries()) {
    all.push(send(name, 2));
    await waitFor(async () => (await m.get('/health')).queued === i + 1);
  }
  await Promise.all(all);
  expect(finished).toEqual(['a', 'b', 'c', 'd']);
});

test('a full queue answers 503 with Retry-After, without queuing the request', async () => {
  m = await startService({ slots: 1, maxQueue: 1, decodeMsPerToken: 5, faults: { retryAfterS: 4 } });
  const first = m.post('/v1/completions', { model: 'ref-small', prompt: 'a', max_tokens: 40 });
  const second = m.post('/v1/completions', { model: 'ref-small', prompt: 'b', max_tokens: 1 });
  await waitFor(async () => (await m.get('/health')).queued === 1);
  const third = await m.post('/v1/completions', { model: 'ref-small', prompt: 'c', max_tokens: 1 });
  expect(third.status).toBe(503);
  expect(third.headers.get('retry-after')).toBe('4');
  expect(((await third.json()) as any).error).toMatchObject({
    type: 'server_error',
    code: 'server_overloaded',
  });
  expect((await first).status).toBe(200);
  expect((await second).status).toBe(200);
  expect((await m.stats()).by_status).toEqual({ 200: 2, 503: 1 });
});

const timed = async (m: Running, body: Record<string, unknown>): Promise<{ ms: number; end: number }> => {
  const t0 = performance.now();
  const res = await m.post('/v1/completions', { model: 'ref-small', ...body });
  expect(res.status).toBe(200);
  await res.json();
  const end = performance.now();
  return { ms: end - t0, end };
};

test('latency grows with output tokens (decode) and prompt tokens (prefill)', async () => {
  m = await startService({ slots: 4, prefillMsPerToken: 0.5, decodeMsPerToken: 4 });
  // Same prompt, 40 tokens vs 2: the short one ends first. At least 40 × 4 ms for the long one.
  const [long, short] = await Promise.all([
    timed(m, { prompt: 'x', max_tokens: 40 }),
    timed(m, { prompt: 'x', max_tokens: 2 }),
  ]);
  expect(short.end).toBeLessThan(long.end);
  expect(long.ms).toBeGreaterThanOrEqual(40 * 4 * 0.9);
  // Same output, a 400-token prompt vs a 1-token one: the long prompt ends last (about 200 ms prefill).
  const big = 'word '.repeat(400);
  const [bigPrompt, smallPrompt] = await Promise.all([
    timed(m, { prompt: big, max_tokens: 2 }),
    timed(m, { prompt: 'word', max_tokens: 2 }),
  ]);
  expect(smallPrompt.end).toBeLessThan(bigPrompt.end);
  expect(bigPrompt.ms).toBeGreaterThanOrEqual(getTokenizer().count(big) * 0.5 * 0.9);
});

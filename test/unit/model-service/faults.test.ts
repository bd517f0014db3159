import { Writable } from 'node:stream';
import pino from 'pino';
import { FAULTS_AUTH } from '../../support/model-server';
import { startService, waitFor, type Running } from './helpers';

let m: Running;
afterEach(async () => {
  await m?.stop();
});

const body = { model: 'ref-small', prompt: 'hello', max_tokens: 3 };
const putFaults = (faults: unknown): Promise<Response> =>
  fetch(`${m.url}/_faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...FAULTS_AUTH },
    body: JSON.stringify(faults),
  });

/** A logger whose JSON lines land in an array. */
function captureLogger(): { logger: pino.Logger; lines: any[] } {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

test('scripted status faults are served count times in order, with Retry-After, then service resumes', async () => {
  const { logger, lines } = captureLogger();
  m = await startService({ logger });
  const put = await putFaults({
    script: [
      { kind: 'status', status: 503, retryAfterS: 7, count: 2 },
      { kind: 'status', status: 429 },
      { kind: 'status', status: 500 },
    ],
  });
  expect(put.status).toBe(200);
  expect(((await put.json()) as any).script).toHaveLength(3);

  const r1 = await m.post('/v1/completions', body);
  expect(r1.status).toBe(503);
  expect(r1.headers.get('retry-after')).toBe('7');
  expect(((await r1.json()) as any).error).toEqual({
    message: 'injected fault: HTTP 503',
    type: 'server_error',
    param: null,
    code: 'injected_fault',
  });
  expect((await m.post('/v1/completions', body)).status).toBe(503);
  const r3 = await m.post('/v1/completions', body);
  expect(r3.status).toBe(429);
  expect(r3.headers.get('retry-after')).toBe('1'); // FAULT_RETRY_AFTER_S default
  expect(((await r3.json()) as any).error.type).toBe('rate_limit_error');
  const r4 = await m.post('/v1/completions', body);
  expect(r4.status).toBe(500);
  expect(r4.headers.get('retry-after')).toBeNull();
  expect((await m.post('/v1/completions', body)).status).toBe(200);
  expect((await m.post('/v1/completions', body)).status).toBe(200);

  expect(await m.get('/_faults')).toMatchObject({ script: [], served: { 503: 2, 429: 1, 500: 1 } });
  expect((await m.stats()).by_status).toEqual({ 200: 2, 429: 1, 500: 1, 503: 2 });
  const faultLines = lines.filter((l) => l.msg === 'fault injected');
  expect(faultLines.map(({ kind, status, model, source }) => ({ kind, status, model, source }))).toEqual([
    { kind: 'status', status: 503, model: 'ref-small', source: 'script' },
    { kind: 'status', status: 503, model: 'ref-small', source: 'script' },
    { kind: 'status', status: 429, model: 'ref-small', source: 'script' },
    { kind: 'status', status: 500, model: 'ref-small', source: 'script' },
  ]);
});

test('a scripted entry with a model only hits that model; PUT replaces the script; DELETE clears', async () => {
  m = await startService();
  await putFaults({ script: [{ kind: 'status', status: 500, model: 'ref-large', count: 5 }] });
  expect((await m.post('/v1/completions', body)).status).toBe(200);
  expect((await m.post('/v1/completions', { ...body, model: 'ref-large' })).status).toBe(500);
  await putFaults({ script: [{ kind: 'status', status: 400 }] });
  expect((await m.get('/_faults')).script).toEqual([{ kind: 'status', status: 400, count: 1 }]);
  await putFaults({ rates: { rate500: 1 } });
  expect((await m.post('/v1/completions', body)).status).toBe(400); // script first
  expect((await m.post('/v1/completions', body)).status).toBe(500); // then rates
  const cleared = await (await fetch(`${m.url}/_faults`, { method: 'DELETE', headers: FAULTS_AUTH })).json();
  expect(cleared).toMatchObject({ script: [], served: {}, rates: { rate500: 0 } });
  expect((await m.post('/v1/completions', body)).status).toBe(200);
});

test('hang: accepted and never answered until the client goes away', async () => {
  m = await startService();
  await putFaults({ script: [{ kind: 'hang' }] });
  const ac = new AbortController();
  const hung = m.post('/v1/completions', body, { signal: ac.signal });
  await waitFor(async () => (await m.stats()).in_flight === 1);
  // Other requests are still served while one hangs.
  expect((await m.post('/v1/completions', body)).status).toBe(200);
  expect((await m.stats()).in_flight).toBe(1);
  ac.abort();
  await expect(hung).rejects.toThrow(/abort/i);
  await waitFor(async () => (await m.stats()).in_flight === 0);
  expect(await m.stats()).toMatchObject({ aborted: 1, by_status: { 200: 1 }, requests_total: 2 });
  expect((await m.get('/_faults')).served).toEqual({ hang: 1 });
});

test('drop: the connection is destroyed without an answer, so fetch rejects', async () => {
  m = await startService();
  await putFaults({ script: [{ kind: 'drop', count: 2 }] });
  await expect(m.post('/v1/completions', body)).rejects.toThrow(/fetch failed/);
  await expect(m.post('/v1/chat/completions', { model: 'ref-small', messages: [] })).resolves.toHaveProperty(
    'status',
    400, // invalid requests are answered before any fault is picked
  );
  await expect(
    m.post('/v1/chat/completions', { model: 'ref-small', messages: [{ role: 'user', content: 'x' }] }),
  ).rejects.toThrow(/fetch failed/);
  expect((await m.post('/v1/completions', body)).status).toBe(200);
  expect(await m.stats()).toMatchObject({ dropped: 2, requests_total: 4, by_status: { 200: 1, 400: 1 } });
});

test('spike: extra latency before the answer', async () => {
  m = await startService({ slots: 2 });
  await putFaults({ script: [{ kind: 'spike', ms: 300 }] });
  const t0 = performance.now();
  const order: string[] = [];
  const spiked = m.post('/v1/completions', body).then(async (r) => (order.push('spiked'), r));
  await waitFor(async () => (await m.stats()).in_flight === 1);
  const normal = await m.post('/v1/completions', body);
  order.push('normal');
  expect((await spiked).status).toBe(200);
  expect(normal.status).toBe(200);
  expect(order).toEqual(['normal', 'spiked']);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  expect((await m.get('/_faults')).served).toEqual({ spike: 1 });
});

test.each([
  ['503', 503, '1'],
  ['429', 429, '1'],
  ['500', 500, null],
  ['400', 400, null],
  ['418', 418, null],
])('X-Fault: %s answers %i (Retry-After %s) for that request only', async (header, status, retryAfter) => {
  m = await startService();
  const res = await m.post('/v1/completions', body, { headers: { 'x-fault': header } });
  expect(res.status).toBe(status);
  expect(res.headers.get('retry-after')).toBe(retryAfter);
  expect(((await res.json()) as any).error.message).toBe(`injected fault: HTTP ${status}`);
  expect((await m.post('/v1/completions', body)).status).toBe(200);
});

test('X-Fault: hang, drop, spike:MS; a malformed value is a 400 naming the header', async () => {
  m = await startService();
  await expect(m.post('/v1/completions', body, { headers: { 'x-fault': 'drop' } })).rejects.toThrow();
  const ac = new AbortController();
  const hung = m.post('/v1/completions', body, { headers: { 'x-fault': 'hang' }, signal: ac.signal });
  await waitFor(async () => (await m.stats()).in_flight === 1);
  ac.abort();
  await expect(hung).rejects.toThrow();
  const t0 = performance.now();
  expect((await m.post('/v1/completions', body, { headers: { 'x-fault': 'spike:150' } })).status).toBe(200);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  const bad = await m.post('/v1/completions', body, { headers: { 'x-fault': 'explode' } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as any).error).toMatchObject({
    param: 'x-fault',
    type: 'invalid_request_error',
  });
  await waitFor(async () => (await m.stats()).in_flight === 0);
  expect((await m.get('/_faults')).served).toEqual({ drop: 1, hang: 1, spike: 1 });
});

test('rates from the options (the environment) use the random source; PUT merges rates', async () => {
  const draws = [0.05, 0.5, 0.95];
  let i = 0;
  m = await startService({
    faults: { rate429: 0.1, rate503: 0.2, retryAfterS: 3 },
    random: () => draws[i++ % draws.length]!,
  });
  const a = await m.post('/v1/completions', body); // 0.05 < 0.1: 429
  expect([a.status, a.headers.get('retry-after')]).toEqual([429, '3']);
  const b = await m.post('/v1/completions', body); // 0.5: past 0.1 + 0.2, no fault
  expect(b.status).toBe(200);
  await putFaults({ rates: { rate503: 0.9 } });
  const c = await m.post('/v1/completions', body); // 0.95 - 0.1 = 0.85 < 0.9: 503
  expect([c.status, c.headers.get('retry-after')]).toEqual([503, '3']);
  expect((await m.get('/_faults')).rates).toMatchObject({ rate429: 0.1, rate503: 0.9, retryAfterS: 3 });
  expect((await m.get('/_faults')).served).toEqual({ 429: 1, 503: 1 });
});

test('hang and drop rates', async () => {
  m = await startService({ faults: { dropRate: 1 } });
  await expect(m.post('/v1/completions', body)).rejects.toThrow();
  await putFaults({ rates: { dropRate: 0, hangRate: 1 } });
  const ac = new AbortController();
  const hung = m.post('/v1/completions', body, { signal: ac.signal });
  await waitFor(async () => (await m.stats()).in_flight === 1);
  ac.abort();
  await expect(hung).rejects.toThrow();
  await waitFor(async () => (await m.stats()).in_flight === 0);
  expect(await m.stats()).toMatchObject({ dropped: 1, aborted: 1 });
});

test.each([
  [{ rates: { rate500: 2 } }, 'rates.rate500'],
  [{ rates: { rate500: 0.6, rate503: 0.6 } }, 'rates'],
  [{ script: [{ kind: 'explode' }] }, 'script[0].kind'],
  [{ script: [{ kind: 'status', status: 200 }] }, 'script[0].status'],
  [{ script: [{ kind: 'spike' }] }, 'script[0].ms'],
  [{ script: [{ kind: 'hang', count: 0 }] }, 'script[0].count'],
  [{ other: 1 }, null],
])('PUT /_faults %j is a 400 (param %s) and changes nothing', async (faults, param) => {
  m = await startService();
  const res = await putFaults(faults);
  expect(res.status).toBe(400);
  expect(((await res.json()) as any).error.param).toBe(param);
  expect((await m.get('/_faults')).rates.rate500).toBe(0);
});

test('with the fault API disabled, /_faults is 404 and X-Fault is ignored', async () => {
  m = await startService({ faultApi: false });
  expect((await fetch(`${m.url}/_faults`, { headers: FAULTS_AUTH })).status).toBe(404);
  expect((await putFaults({ script: [{ kind: 'drop' }] })).status).toBe(404);
  expect((await m.post('/v1/completions', body, { headers: { 'x-fault': '503' } })).status).toBe(200);
});

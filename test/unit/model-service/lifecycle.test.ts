import { sseStream, startService, waitFor, type Running } from './helpers';

let m: Running;
afterEach(async () => {
  await m?.stop();
});

const body = { model: 'ref-small', prompt: 'x', max_tokens: 1000 };

test('close() aborts what is in flight with 503 (or an error event mid-stream) and refuses new requests', async () => {
  m = await startService({ slots: 1, decodeMsPerToken: 10 });
  const streaming = await m.post('/v1/completions', { ...body, stream: true });
  const events = sseStream(streaming.body!);
  await events.next();
  const queued = m.post('/v1/completions', body);
  const hung = m.post('/v1/completions', body, { headers: { 'x-fault': 'hang' } });
  await waitFor(async () => (await m.stats()).in_flight === 3);

  await m.svc.close();
  expect(m.svc.stats.in_flight).toBe(0);
  for (const res of [await queued, await hung]) {
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'shutting_down', type: 'server_error' });
  }
  const rest: string[] = [];
  for await (const e of events) rest.push(e);
  expect(JSON.parse(rest.at(-1)!)).toMatchObject({ error: { code: 'shutting_down' } });
  const late = await m.post('/v1/completions', { ...body, max_tokens: 1 });
  expect(late.status).toBe(503);
  expect(late.headers.get('retry-after')).toBe('1');
  expect((await m.stats()).aborted).toBe(0);
});

test('close({ graceMs }) lets requests in flight finish first', async () => {
  m = await startService({ decodeMsPerToken: 5 });
  const running = m.post('/v1/completions', { ...body, max_tokens: 20 });
  await waitFor(async () => (await m.stats()).in_flight === 1);
  await m.svc.close({ graceMs: 10_000 });
  const res = await running;
  expect(res.status).toBe(200);
  expect(((await res.json()) as any).usage.completion_tokens).toBe(20);
});

import { Writable } from 'node:stream';
import pino from 'pino';
import { createModelService } from '../../../dev/model-service/create-model-service';
import { FAULTS_AUTH } from '../../support/model-server';
import { startService, type Running } from './helpers';

let m: Running;
afterEach(async () => {
  await m?.stop();
});

const body = { model: 'ref-small', prompt: 'hello', max_tokens: 3 };
const script = { script: [{ kind: 'status', status: 503, count: 5 }] };
const faults = (method: string, headers: Record<string, string>, payload?: unknown): Promise<Response> =>
  fetch(`${m.url}/_faults`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });

test.each([
  ['no token', {}],
  ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
  ['the token in another scheme', { authorization: FAULTS_AUTH.authorization.replace('Bearer', 'Basic') }],
])('%s: every /_faults method is 401 and no fault is set', async (_name, headers) => {
  const lines: any[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    }),
  );
  m = await startService({ logger });
  for (const [method, payload] of [
    ['PUT', script],
    ['GET', undefined],
    ['DELETE', undefined],
  ] as const) {
    const res = await faults(method, headers, payload);
    expect({ method, status: res.status }).toEqual({ method, status: 401 });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await res.json()) as any).error).toMatchObject({ code: 'invalid_admin_token' });
  }
  // Nothing was scripted: the next call is served.
  expect((await m.post('/v1/completions', body)).status).toBe(200);
  expect(m.svc.faults.state().script).toEqual([]);
  expect(lines.filter((l) => /fault API request refused/.test(l.msg))).toHaveLength(3);
});

test('with the token, PUT scripts the fault', async () => {
  m = await startService();
  expect((await faults('PUT', FAULTS_AUTH, script)).status).toBe(200);
  expect((await m.post('/v1/completions', body)).status).toBe(503);
});

test('a model service with the fault API on and no admin token is not built', () => {
  expect(() => createModelService({ faultApi: true })).toThrow(/admin token/);
  expect(() => createModelService({ faultApi: false })).not.toThrow();
});

import { Registry } from 'prom-client';
import { AppError } from '../../../src/errors/app-error';
import { AcceptService, type AcceptDeps } from '../../../src/inference/accept-service';
import type { IdempotentAttempt } from '../../../src/inference/idempotent-submit';
import type { StoredResponse } from '../../../src/idempotency/idempotency-store';
import type { PrepareOptions } from '../../../src/inference/submit-service';
import type { InferenceInput } from '../../../src/shared/types';
import { streamMetrics } from '../../../src/streams/stream-metrics';
import type { TenantWithLimits } from '../../../src/tenants/tenants-repo';

/**
 * The one accept path of the native and OpenAI routes, on fakes that record what ran and in what
 * order: the quota pre-check asked for exactly when costly work follows (a webhook, a key), a
 * webhook's look-up after the prepare and its row after reserve, the key's response recorded once.
 * The same paths against a real stack: test/integration/{inference-e2e,openai-compat,idempotency,
 * hostile-submit,webhooks}.test.ts.
 */
const tenant = { id: 't1', priority: 3 } as TenantWithLimits;
const input = (id = 'inf_1'): InferenceInput =>
  ({ requestId: id, tenantId: 't1', model: 'm', acceptedAt: '2026-12-07T18:00:00.000Z' }) as InferenceInput;
const respond = (i: InferenceInput): StoredResponse => ({ status: 202, body: { id: i.requestId } });

function setup(
  o: {
    webhooks?: boolean;
    idempotent?: { replayed: boolean; response?: StoredResponse };
    ended?: boolean;
  } = {},
) {
  const calls: string[] = [];
  const attempts: IdempotentAttempt[] = [];
  const fresh: (boolean | undefined)[] = [];
  const deps: AcceptDeps = {
    submit: {
      prepare: async (_t, _b, opts?: PrepareOptions) => {
        calls.push(`prepare(sideEffectsNext=${opts?.sideEffectsNext})`);
        return input();
      },
      submit: async (i, opts) => {
        calls.push('reserve');
        await opts?.afterReserve?.(i);
        calls.push('start');
      },
    },
    webhooks: o.webhooks
      ? {
          checkSyntax: () => void calls.push('webhook syntax'),
          check: async () => void calls.push('webhook lookup'),
          bind: async (id) => void calls.push(`webhook row ${id}`),
        }
      : undefined,
    idempotent: o.idempotent
      ? {
          accept: async (a) => {
            attempts.push(a);
            calls.push('key');
            const i = o.idempotent!.replayed ? input('inf_first') : await a.prepare();
            if (!o.idempotent!.replayed) await deps.submit.submit(i, { afterReserve: a.afterReserve });
            return { input: i, replayed: o.idempotent!.replayed, response: o.idempotent!.response };
          },
          complete: async (_t, _k, id) => void calls.push(`complete ${id}`),
        }
      : undefined,
    follower: {
      end: async (_id: string, opts: { fresh?: boolean }) => {
        fresh.push(opts.fresh);
        return { status: 'completed', by: 'signal' };
      },
    } as never,
    requests: { get: async () => (o.ended ? ({ id: 'inf_1', status: 'completed' } as never) : undefined) },
    streamMetrics: streamMetrics(new Registry()),
  };
  return { accept: new AcceptService(deps), calls, attempts, fresh };
}

const native = { endpoint: 'POST /v1/inference', body: { model: 'm' }, submit: { model: 'm' } };

test('without a key or a webhook: no pre-check, reserve then start, the response built once', async () => {
  const s = setup();
  const a = await s.accept.accept({ tenant, ...native, respond });
  expect(s.calls).toEqual(['prepare(sideEffectsNext=false)', 'reserve', 'start']);
  expect(a).toEqual({ input: input(), replayed: false, response: respond(input()) });
});

test('a webhook: syntax first, quota pre-check, look-up after the prepare, row once reserved', async () => {
  const s = setup({ webhooks: true });
  await s.accept.accept({ tenant, ...native, submit: { model: 'm', webhook_url: 'https://h.example/' } });
  expect(s.calls).toEqual([
    'webhook syntax',
    'prepare(sideEffectsNext=true)',
    'webhook lookup',
    'reserve',
    'webhook row inf_1',
    'start',
  ]);
});

test('a webhook_url without webhooks is a 400 before anything runs', async () => {
  const s = setup();
  const err = await s.accept
    .accept({ tenant, ...native, submit: { model: 'm', webhook_url: 'https://h.example/' } })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect(err).toMatchObject({ type: 'invalid_request_error', param: 'webhook_url' });
  expect(s.calls).toEqual([]);
});

test('a key is bound to the client body and endpoint, with a pre-check before its row', async () => {
  const s = setup({ idempotent: { replayed: false, response: respond(input()) } });
  const body = { model: 'm', messages: [] };
  const a = await s.accept.accept({
    tenant,
    idempotencyKey: 'k1',
    endpoint: 'POST /v1/chat/completions',
    body,
    submit: { model: 'm' },
    sampling: { top_p: 0.5 },
  });
  expect(s.attempts[0]).toMatchObject({
    tenantId: 't1',
    key: 'k1',
    endpoint: 'POST /v1/chat/completions',
    body,
  });
  expect(s.calls).toEqual(['key', 'prepare(sideEffectsNext=true)', 'reserve', 'start']);
  expect(a.input.sampling).toEqual({ top_p: 0.5 });
});

test("a key's replay keeps the first response; one started without it records it once", async () => {
  const first = { status: 202, body: { id: 'inf_first', first: true } };
  const replay = setup({ idempotent: { replayed: true, response: first } });
  const a = await replay.accept.accept({ tenant, idempotencyKey: 'k1', ...native, respond });
  expect(a).toMatchObject({ replayed: true, response: first });
  expect(replay.calls).toEqual(['key']);

  const old = setup({ idempotent: { replayed: true } });
  const b = await old.accept.accept({ tenant, idempotencyKey: 'k1', ...native, respond });
  expect(b.response).toEqual(respond(input('inf_first')));
  expect(old.calls).toEqual(['key', 'complete inf_first']);

  // Without `respond` (the OpenAI routes) nothing is recorded: the response is rebuilt from the request.
  const openai = setup({ idempotent: { replayed: true } });
  expect((await openai.accept.accept({ tenant, idempotencyKey: 'k1', ...native })).response).toBeUndefined();
  expect(openai.calls).toEqual(['key']);
});

test('a key without idempotency enabled is ignored', async () => {
  const s = setup();
  await s.accept.accept({ tenant, idempotencyKey: 'k1', ...native });
  expect(s.calls).toEqual(['prepare(sideEffectsNext=false)', 'reserve', 'start']);
});

test('wait: a request this call submitted skips the first PostgreSQL read, a replay does not', async () => {
  const s = setup({ ended: true });
  const signal = new AbortController().signal;
  expect(await s.accept.wait({ input: input(), replayed: false }, signal)).toMatchObject({
    status: 'completed',
  });
  await s.accept.wait({ input: input(), replayed: true }, signal);
  expect(s.fresh).toEqual([true, false]);
});

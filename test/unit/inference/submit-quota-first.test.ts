import { SubmitService } from '../../../src/inference/submit-service';
import { ModelRegistry } from '../../../src/models/model-registry';
import { modelSpecSchema } from '../../../src/models/model-spec';
import { createLogger } from '../../../src/observability/logger';
import { createMetrics } from '../../../src/observability/metrics';
import type { HeadroomResult } from '../../../src/quota/quota-headroom';
import type { ReserveResult } from '../../../src/quota/quota-store';
import type { InferenceInput } from '../../../src/shared/types';
import type { TenantWithLimits } from '../../../src/tenants/tenants-repo';

/**
 * The submit path's order against quota: the read-only pre-check runs before costly work only when
 * asked (sideEffectsNext), and afterReserve (a webhook row) runs only once reserve said yes, its
 * failure giving the reservation back. Quota, requests and workflows are fakes; the same order
 * against the real stack is in test/integration/hostile-submit.test.ts.
 */
const refusal = {
  outcome: 'refused',
  limit: 'tokens_per_day',
  limitValue: 0,
  used: 0,
  reserved: 0,
  resetsAt: new Date(Date.now() + 60_000),
} as const;

function setup(o: { headroom?: HeadroomResult; reserve?: ReserveResult } = {}) {
  const calls: string[] = [];
  const service = new SubmitService({
    registry: new ModelRegistry([
      modelSpecSchema.parse({
        name: 'm',
        protocol: 'openai',
        base_url: 'http://127.0.0.1:1',
        gpu_task_queue: 'gpu',
        context_length: 4096,
      }),
    ]),
    quota: {
      reserve: async () => {
        calls.push('reserve');
        return o.reserve ?? { outcome: 'reserved' };
      },
      release: async () => {
        calls.push('release');
        return { outcome: 'settled', from: 'reserved' };
      },
    } as never,
    headroom: {
      check: async () => {
        calls.push('headroom');
        return o.headroom ?? { outcome: 'ok' };
      },
    } as never,
    workflows: {
      start: async () => void calls.push('start'),
      find: async () => undefined,
    } as never,
    requests: {
      insertQueued: async () => void calls.push('row'),
      finish: async () => [],
    },
    metrics: createMetrics('submit-quota-first-test'),
    logger: createLogger({ component: 'submit-quota-first-test', level: 'silent' }),
    requestDeadlineS: 3600,
  });
  return { service, calls };
}

const tenant = { id: 't', priority: 3 } as TenantWithLimits;
const body = { model: 'm', prompt: 'hello', max_tokens: 8 };

test('a short prompt is checked against quota before costly work only when costly work follows', async () => {
  const plain = setup();
  await plain.service.prepare(tenant, body);
  expect(plain.calls).toEqual([]);
  const costly = setup();
  await costly.service.prepare(tenant, body, { sideEffectsNext: true });
  expect(costly.calls).toEqual(['headroom']);
});

test('the pre-check refuses with the 429 reserve would give', async () => {
  const { service } = setup({ headroom: refusal });
  await expect(service.prepare(tenant, body, { sideEffectsNext: true })).rejects.toMatchObject({
    type: 'quota_exceeded',
    param: 'tokens_per_day',
  });
});

test('afterReserve runs after reserve, before the row and the start; never when reserve refuses', async () => {
  const ok = setup();
  const input: InferenceInput = await ok.service.prepare(tenant, body);
  await ok.service.submit(input, { afterReserve: async () => void ok.calls.push('bind') });
  expect(ok.calls).toEqual(['reserve', 'bind', 'row', 'start']);

  const refused = setup({ reserve: refusal });
  await expect(
    refused.service.submit(input, { afterReserve: async () => void refused.calls.push('bind') }),
  ).rejects.toMatchObject({ type: 'quota_exceeded' });
  expect(refused.calls).toEqual(['reserve']);
});

test('a failed afterReserve gives back the reservation it made, and only that', async () => {
  const fails = async (): Promise<void> => {
    throw new Error('webhook row not written');
  };
  const fresh = setup();
  const input = await fresh.service.prepare(tenant, body);
  await expect(fresh.service.submit(input, { afterReserve: fails })).rejects.toThrow('webhook row');
  expect(fresh.calls).toEqual(['reserve', 'release']);

  const found = setup({ reserve: { outcome: 'exists', state: 'reserved' } });
  await expect(found.service.submit(input, { afterReserve: fails })).rejects.toThrow('webhook row');
  expect(found.calls).toEqual(['reserve']);
});

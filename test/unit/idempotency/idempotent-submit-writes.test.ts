import { Registry } from 'prom-client';
import { bodyHash } from '../../../src/idempotency/canonical-hash';
import { idempotencyMetrics } from '../../../src/idempotency/idempotency-metrics';
import type {
  IdempotencyRecord,
  IdempotencyStore,
  StoredResponse,
} from '../../../src/idempotency/idempotency-store';
import { IdempotentSubmit } from '../../../src/inference/idempotent-submit';
import type { WorkflowView } from '../../../src/inference/workflow-gateway';
import { createLogger } from '../../../src/observability/logger';
import type { InferenceInput } from '../../../src/shared/types';

/**
 * How many times an idempotent accept writes its key: once to bind it ('pending'), once to mark it
 * started together with the response a retry is replayed. The store, the submit and the workflow
 * look-up are fakes (this tests the key's writes alone; the semantics against PostgreSQL, Redis and
 * Temporal are in test/integration/idempotency.test.ts).
 */
const input = { requestId: 'inf_1', acceptedAt: new Date().toISOString() } as InferenceInput;
const body = { model: 'ref-small', prompt: 'hi' };
const endpoint = 'POST /v1/inference';
const response: StoredResponse = { status: 202, body: { id: 'inf_1', status: 'queued' } };

function setup(existing?: IdempotencyRecord, running = false) {
  const marks: unknown[][] = [];
  const store = {
    find: async () => existing,
    insertPending: async () => true,
    claimStale: async () => existing,
    markStarted: async (...args: unknown[]) => {
      marks.push(args);
    },
  } as unknown as IdempotencyStore;
  const idem = new IdempotentSubmit({
    store,
    submit: { submit: async () => undefined },
    workflows: {
      find: async (): Promise<WorkflowView | undefined> =>
        running
          ? { tenantId: 't', model: 'ref-small', startedAt: new Date(0), status: 'running' }
          : undefined,
    },
    quota: { reservationState: async () => 'reserved' },
    metrics: idempotencyMetrics(new Registry()),
    logger: createLogger({ component: 'idem-test', level: 'silent' }),
    pendingStaleS: 5,
  });
  const attempt = {
    tenantId: 't',
    key: 'k',
    endpoint,
    body,
    prepare: async () => input,
    respond: () => response,
  };
  return { idem, marks, attempt };
}

const pending: IdempotencyRecord = {
  tenantId: 't',
  key: 'k',
  endpoint,
  bodyHash: bodyHash(endpoint, body),
  requestId: 'inf_1',
  state: 'pending',
  input,
  createdAt: new Date(0),
};

test('a first submit marks its key started once, with the response to replay', async () => {
  const { idem, marks, attempt } = setup();
  const accepted = await idem.accept(attempt);
  expect(accepted).toEqual({ input, replayed: false, response });
  expect(marks).toEqual([['t', 'k', 'inf_1', response]]);
});

test('a retry that re-drives a stale key marks it once, with the response, whether it starts or finds it running', async () => {
  for (const running of [false, true]) {
    const { idem, marks, attempt } = setup(pending, running);
    const accepted = await idem.accept(attempt);
    expect(accepted).toEqual({ input, replayed: true, response });
    expect(marks).toEqual([['t', 'k', 'inf_1', response]]);
  }
});

test('without respond (the OpenAI endpoints) the key is marked started with no response', async () => {
  const { idem, marks, attempt } = setup();
  const accepted = await idem.accept({ ...attempt, respond: undefined });
  expect(accepted.response).toBeUndefined();
  expect(marks).toEqual([['t', 'k', 'inf_1', undefined]]);
});

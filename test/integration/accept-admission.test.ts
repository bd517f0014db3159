import { QuotaStore } from '../../src/quota/quota-store';
import { PgQuotaStateSource } from '../../src/quota/quota-state-source';
import { QuotaSweeper } from '../../src/quota/quota-sweeper';
import { AbandonedRequests } from '../../src/requests/abandoned-requests';
import { RequestsRepo } from '../../src/requests/requests-repo';
import type { SubmitDeps } from '../../src/inference/submit-service';
import { TemporalWorkflowGateway, type WorkflowGateway } from '../../src/inference/workflow-gateway';
import { AppError } from '../../src/errors/app-error';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { startStack } from '../support/stack';
import { prepared, submitServiceOn } from '../support/submit-service';

/**
 * The API writes the request row and reserves quota before it starts the workflow (patch
 * `admitted-at-accept`), so the workflow has no admit step. Against a real Temporal server,
 * PostgreSQL and Redis: what each failure between those steps leaves behind.
 */
let s: Awaited<ReturnType<typeof startStack>>;

beforeAll(async () => {
  s = await startStack();
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

const silent = createLogger({ component: 'admission-test', level: 'silent' });

function service(over: Partial<SubmitDeps> = {}) {
  const metrics = createMetrics('admission-test');
  return { submit: submitServiceOn(s, { metrics, rowWriteTimeoutMs: 500, ...over }), metrics };
}

async function row(id: string) {
  const { rows } = await s.pool.query<{
    status: string;
    error_type: string | null;
    error_message: string | null;
  }>('SELECT status, error_type, error_message FROM requests WHERE id = $1', [id]);
  return rows[0];
}

async function patchesAndLocalActivities(id: string) {
  const handle = s.client.workflow.getHandle(id);
  // The row turns terminal inside the last local activity, a moment before its marker is recorded.
  await handle.result().catch(() => undefined);
  const history = await handle.fetchHistory();
  const markers = (history.events ?? []).flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    return m ? [m] : [];
  });
  const text = (p: { data?: Uint8Array | null } | undefined) => Buffer.from(p?.data ?? []).toString();
  return {
    patches: markers
      .filter((m) => m.markerName === 'core_patch')
      .map((m) => JSON.parse(text(m.details?.['patch-data']?.payloads?.[0])).id as string),
    localActivities: markers
      .filter((m) => m.markerName === 'core_local_activity')
      .map((m) => JSON.parse(text(m.details?.data?.payloads?.[0])).activity_type as string),
  };
}

const counted = async (metrics: ReturnType<typeof createMetrics>, by: 'api' | 'workflow') =>
  (await metrics.registry.getSingleMetric('inference_accept_row_written_total')!.get()).values.find(
    (v) => v.labels.by === by,
  )?.value ?? 0;

test('through the API: the row exists at 202, the workflow runs no admit step and completes', async () => {
  const id = await s.submit('admitted at accept', 8);
  expect((await row(id))?.status).toMatch(/^(queued|running|completed)$/);
  expect((await s.waitFinished(id)).status).toBe('completed');
  const h = await patchesAndLocalActivities(id);
  // Today's shape (patch lean-history): its one marker, and no admit step.
  expect(h.patches).toEqual(['lean-history']);
  expect(h.localActivities).toEqual(['completeRequest']);
  expect(await s.quota.reservationState(s.tenantId, id)).toBe('committed');
});

test('PostgreSQL cannot take the row: accepted all the same, the workflow admits it', async () => {
  const { submit, metrics } = service({
    requests: { insertQueued: () => Promise.reject(new Error('connection refused')), finish: async () => [] },
  });
  const input = await prepared(s, submit, 'row left to the workflow');
  await submit.submit(input);
  expect(await counted(metrics, 'workflow')).toBe(1);
  expect((await s.waitFinished(input.requestId)).status).toBe('completed');
  const h = await patchesAndLocalActivities(input.requestId);
  expect(h.patches).not.toContain('admitted-at-accept');
  expect(h.localActivities).toEqual(['admitRequest', 'completeRequest']);
});

test('a request without its row is found through Temporal: tenant and model from its search attributes', async () => {
  const { submit } = service({
    requests: { insertQueued: () => Promise.reject(new Error('connection refused')), finish: async () => [] },
  });
  const input = await prepared(s, submit, 'found before its row');
  await submit.submit(input);
  const gateway = new TemporalWorkflowGateway(s.client, s.cfg.ORCHESTRATION_TASK_QUEUE);
  expect(await gateway.find(input.requestId)).toEqual({
    tenantId: s.tenantId,
    model: 'ref-small',
    startedAt: expect.any(Date),
    status: expect.stringMatching(/^(queued|running|completed)$/),
  });
  expect(await gateway.find('req_never_started')).toBeUndefined();
  expect((await s.waitFinished(input.requestId)).status).toBe('completed');
});

test('the start fails: 503, the reservation is given back and the row ends as failed', async () => {
  const real = new TemporalWorkflowGateway(s.client, s.cfg.ORCHESTRATION_TASK_QUEUE);
  const down: WorkflowGateway = {
    ...real,
    start: () => Promise.reject(new Error('14 UNAVAILABLE')),
    find: () => Promise.reject(new Error('14 UNAVAILABLE')),
    cancel: (id) => real.cancel(id),
    ping: () => real.ping(),
  };
  const { submit } = service({ workflows: down });
  const input = await prepared(s, submit, 'never started');
  const err = await submit.submit(input).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).type).toBe('service_unavailable');
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe('released');
  expect(await row(input.requestId)).toEqual({
    status: 'failed',
    error_type: 'service_unavailable',
    error_message: 'could not queue the request; retry later',
  });
});

test('the start fails on the way back but the workflow runs: accepted, and it completes', async () => {
  const real = new TemporalWorkflowGateway(s.client, s.cfg.ORCHESTRATION_TASK_QUEUE);
  const lostReply: WorkflowGateway = {
    start: async (i) => {
      await real.start(i);
      throw new Error('4 DEADLINE_EXCEEDED');
    },
    find: (id) => real.find(id),
    cancel: (id) => real.cancel(id),
    ping: () => real.ping(),
  };
  const { submit } = service({ workflows: lostReply });
  const input = await prepared(s, submit, 'started anyway');
  await submit.submit(input);
  expect((await s.waitFinished(input.requestId)).status).toBe('completed');
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe('committed');
});

test('the API stops between the row and the start: the sweeper reclaims the quota and ends the row', async () => {
  const { submit } = service();
  const input = await prepared(s, submit, 'api died before start');
  // What submit() does up to the start, then nothing: the process is gone.
  await s.quota.reserve(
    { requestId: input.requestId, tenantId: s.tenantId, acceptedAt: new Date(input.acceptedAt) },
    input.estimatedTokens,
  );
  await new RequestsRepo(s.pool, s.atRest).insertQueued(input);
  const running = await s.submit('still running when swept', 2000);

  // A sweeper two hours on: both reservations are past their TTL.
  const later = new QuotaStore({
    redis: s.redis,
    source: new PgQuotaStateSource(s.pool),
    prefix: s.cfg.REDIS_KEY_PREFIX,
    reservationTtlS: s.cfg.QUOTA_RESERVATION_TTL_S,
    recordRetentionS: s.cfg.QUOTA_RECORD_RETENTION_S,
    now: () => new Date(Date.now() + (s.cfg.QUOTA_RESERVATION_TTL_S + 60) * 1000),
  });
  const abandoned = new AbandonedRequests(new RequestsRepo(s.pool, s.atRest), s.client.workflow, silent);
  const sweeper = new QuotaSweeper(later, createMetrics('admission-sweep'), silent, 60, (id) =>
    abandoned.settle(id),
  );
  expect(await sweeper.sweepOnce()).toBeGreaterThanOrEqual(2);
  expect(await row(input.requestId)).toEqual({
    status: 'failed',
    error_type: 'internal_error',
    error_message: 'its workflow never started',
  });
  // A request whose workflow still runs keeps its row; its workflow settles it: cancelled, or, if
  // its GPU worker asked for its next reservation slice first, stopped there (its reservation was
  // reclaimed: no token past it is produced).
  // (Already stopped there if it asked between the sweep and this read.)
  expect((await row(running))?.status).toMatch(/^(queued|running|completed)$/);
  await s.call('POST', `/v1/inference/${running}/cancel`);
  const ended = await s.waitFinished(running);
  if (ended.status === 'completed') expect(ended.stop_reason).toBe('reservation_closed');
  else expect(ended.status).toBe('cancelled');
});

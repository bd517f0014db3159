import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { cancellingPendingStarts, DeferredStarts } from '../../src/inference/deferred-starts';
import { InputSealer } from '../../src/inference/sealed-input';
import { startMetrics } from '../../src/inference/start-metrics';
import { TemporalWorkflowGateway, type WorkflowGateway } from '../../src/inference/workflow-gateway';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { PendingStartsRepo } from '../../src/requests/pending-starts-repo';
import { RequestsRepo } from '../../src/requests/requests-repo';
import type { InferenceInput } from '../../src/shared/types';
import { startStack, type Stack } from '../support/stack';
import { prepared, submitServiceOn } from '../support/submit-service';

/**
 * A request is acknowledged once its row holds the sealed workflow input; its workflow starts right
 * after, and a recovery sweep starts what did not (Temporal down, API gone). Against a real Temporal
 * server, PostgreSQL and Redis, with payload encryption on. The stack's own API sweeps only after an
 * hour here, so each test drives its own sweep.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({
    env: {
      PAYLOAD_KEYS: `ds-key:${randomBytes(32).toString('base64')}`,
      WORKFLOW_START_RECOVERY_S: '3600',
    },
  });
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

const byHand = { type: 'cancelled', message: 'settled by the test' };
const silent = createLogger({ component: 'deferred-starts-test', level: 'silent' });
const real = () => new TemporalWorkflowGateway(s.client, s.cfg.ORCHESTRATION_TASK_QUEUE);
const down: WorkflowGateway = {
  start: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
  find: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
  cancel: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
  ping: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
};

function deferred(workflows: WorkflowGateway, recoverAfterS = 0) {
  const metrics = createMetrics('deferred-starts-test');
  const starts = new DeferredStarts({
    workflows,
    pending: new PendingStartsRepo(s.pool),
    sealer: new InputSealer(s.client.options.loadedDataConverter),
    metrics: startMetrics(metrics.registry),
    logger: silent,
    recoverAfterS,
    // These tests start and sweep by hand: no start waits for accepts.
    maxDeferMs: 0,
  });
  return { starts, metrics };
}

async function counted(metrics: ReturnType<typeof createMetrics>, labels: Record<string, string>) {
  const m = await metrics.registry.getSingleMetric('inference_workflow_starts_total')!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

async function row(id: string) {
  const { rows } = await s.pool.query<{ status: string; start_input: unknown }>(
    `SELECT r.status, p.input AS start_input FROM requests r
     LEFT JOIN pending_starts p ON p.request_id = r.id WHERE r.id = $1`,
    [id],
  );
  return rows[0];
}

/**
 * What an API that stopped right after acknowledging leaves: reservation, row and sealed input. The
 * request asks for 2,000 tokens (2 s on the reference model) so that a cancel finds it running.
 */
async function acknowledgedOnly(prompt: string): Promise<InferenceInput> {
  const submit = submitServiceOn(s);
  const small = await prepared(s, submit, prompt);
  const input = { ...small, maxTokens: 2000, estimatedTokens: small.promptTokens + 2000 };
  await s.quota.reserve(
    { requestId: input.requestId, tenantId: s.tenantId, acceptedAt: new Date(input.acceptedAt) },
    input.estimatedTokens,
  );
  const { starts } = deferred(down);
  const admitted = { ...input, admittedAtAccept: true };
  await new RequestsRepo(s.pool, s.atRest).insertQueued(input, await starts.seal(admitted));
  return input;
}

test('through the API: 202, the workflow starts at once and the stored input is dropped', async () => {
  const before = await counted(s.metrics, { by: 'accept', outcome: 'started' });
  const id = await s.submit('deferred start through the API', 8);
  expect((await s.waitFinished(id)).status).toBe('completed');
  expect(await counted(s.metrics, { by: 'accept', outcome: 'started' })).toBe(before + 1);
  // Dropped within a flush interval (250 ms) of the start.
  const deadline = Date.now() + 5000;
  while ((await row(id))?.start_input !== null && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(await row(id)).toEqual({ status: 'completed', start_input: null });
  const delay = await s.metrics.registry.getSingleMetric('inference_workflow_start_delay_seconds')!.get();
  const observed = delay.values.find(
    (v) => (v as { metricName?: string }).metricName?.endsWith('_count') && v.labels.by === 'accept',
  );
  expect(observed?.value).toBeGreaterThan(0);
});

test('a burst through the API: every request accepted, every workflow started once, the outbox emptied', async () => {
  const before = await counted(s.metrics, { by: 'accept', outcome: 'started' });
  // At once: their starts wait for the accepts in progress, then all go.
  const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => s.submit(`deferred burst ${i}`, 4)));
  for (const id of ids) expect((await s.waitFinished(id)).status).toBe('completed');
  expect(await counted(s.metrics, { by: 'accept', outcome: 'started' })).toBe(before + 12);
  const deadline = Date.now() + 5000;
  const pending = async () =>
    (await s.pool.query('SELECT count(*)::int AS n FROM pending_starts WHERE request_id = ANY($1)', [ids]))
      .rows[0].n;
  while ((await pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(await pending()).toBe(0);
});

test('the stored input is sealed as Temporal would store it: no prompt in clear, opens to the input', async () => {
  const input = await acknowledgedOnly('a secret prompt that must not sit in clear');
  const stored = (await row(input.requestId))!.start_input;
  expect(JSON.stringify(stored)).not.toContain('secret prompt');
  const { rows } = await s.pool.query('SELECT input::text AS t FROM pending_starts WHERE request_id = $1', [
    input.requestId,
  ]);
  expect(Buffer.from(JSON.parse(rows[0].t).data, 'base64').toString('latin1')).not.toContain('secret prompt');
  const opened = await new InputSealer(s.client.options.loadedDataConverter).open(
    (await new PendingStartsRepo(s.pool).of(input.requestId))!,
  );
  expect(opened).toEqual({ ...input, admittedAtAccept: true });
  await s.call('POST', `/v1/inference/${input.requestId}/cancel`);
  expect((await s.waitFinished(input.requestId)).status).toBe('cancelled');
});

test('Temporal refuses the start: still accepted, and the recovery sweep starts it once it answers', async () => {
  const failing = deferred(down);
  const submit = submitServiceOn(s, { workflows: down, starts: failing.starts });
  const input = await prepared(s, submit, 'accepted while Temporal is down');
  await submit.submit(input);
  await failing.starts.stop();
  expect(await counted(failing.metrics, { by: 'accept', outcome: 'failed' })).toBe(1);
  expect((await row(input.requestId))?.status).toBe('queued');
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe('reserved');

  // While Temporal is still down the sweep leaves it pending.
  expect(await failing.starts.recoverOnce()).toBe(0);
  expect((await row(input.requestId))?.start_input).not.toBeNull();

  const recovering = deferred(real());
  expect(await recovering.starts.recoverOnce()).toBeGreaterThanOrEqual(1);
  expect(await counted(recovering.metrics, { by: 'recovery', outcome: 'started' })).toBeGreaterThanOrEqual(1);
  expect((await s.waitFinished(input.requestId)).status).toBe('completed');
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe('committed');
  expect((await row(input.requestId))?.start_input).toBeNull();
});

test("the API stops right after acknowledging: another replica's sweep starts it, once", async () => {
  const input = await acknowledgedOnly('api gone after the 202');
  const a = deferred(real());
  const b = deferred(real());
  // Two replicas sweeping at once: the workflow id is the request id, so it runs once.
  await Promise.all([a.starts.recoverOnce(), b.starts.recoverOnce()]);
  expect((await s.waitFinished(input.requestId)).status).toBe('completed');
  const { rows } = await s.pool.query('SELECT count(*)::int AS n FROM usage_ledger WHERE request_id = $1', [
    input.requestId,
  ]);
  expect(rows[0].n).toBe(1);
  const runs = [];
  for await (const w of s.client.workflow.list({ query: `WorkflowId = '${input.requestId}'` })) runs.push(w);
  expect(runs).toHaveLength(1);
});

test('the sweep leaves requests younger than WORKFLOW_START_RECOVERY_S to their own start', async () => {
  const input = await acknowledgedOnly('too young to recover');
  const patient = deferred(real(), 3600);
  expect(await patient.starts.recoverOnce()).toBe(0);
  expect(
    await s.client.workflow
      .getHandle(input.requestId)
      .describe()
      .catch(() => 'none'),
  ).toBe('none');
  await s.call('POST', `/v1/inference/${input.requestId}/cancel`);
  expect((await s.waitFinished(input.requestId)).status).toBe('cancelled');
});

test('cancelled before its workflow started: 202, the workflow starts to settle it as cancelled', async () => {
  const input = await acknowledgedOnly('cancelled before the start');
  const res = await s.call('POST', `/v1/inference/${input.requestId}/cancel`);
  expect(res.status).toBe(202);
  const done = await s.waitFinished(input.requestId);
  expect(done.status).toBe('cancelled');
  // Settled by the workflow: released, or committed for the tokens produced before the cancel landed.
  expect(await s.quota.reservationState(s.tenantId, input.requestId)).toBe(
    done.usage ? 'committed' : 'released',
  );
  expect((await row(input.requestId))?.start_input).toBeNull();
  // A second cancel finds it finished.
  expect((await s.call('POST', `/v1/inference/${input.requestId}/cancel`)).status).toBe(409);
});

test('the gateway cancels through a start only where the row still holds an input', async () => {
  const calls: string[] = [];
  const gateway: WorkflowGateway = {
    start: async (i) => void calls.push(`start ${i.requestId}`),
    find: async () => undefined,
    cancel: async (id) => (calls.push(`cancel ${id}`), calls.filter((c) => c.startsWith('start')).length > 0),
    ping: async () => undefined,
  };
  const input = await acknowledgedOnly('gateway order');
  const { starts } = deferred(gateway, 3600);
  expect(await cancellingPendingStarts(gateway, starts).cancel(input.requestId)).toBe(true);
  expect(calls).toEqual([
    `cancel ${input.requestId}`,
    `start ${input.requestId}`,
    `cancel ${input.requestId}`,
  ]);
  expect((await row(input.requestId))?.start_input).toBeNull();

  calls.length = 0;
  expect(await cancellingPendingStarts(gateway, deferred(gateway, 3600).starts).cancel('req_absent')).toBe(
    false,
  );
  // No stored input: no start, the second cancel answers as Temporal does.
  expect(calls).toEqual(['cancel req_absent', 'cancel req_absent']);
  // Nothing ran: its row and reservation are settled by hand.
  await new RequestsRepo(s.pool, s.atRest).finish(input.requestId, 'cancelled', byHand);
  await s.quota.release({
    requestId: input.requestId,
    tenantId: s.tenantId,
    acceptedAt: new Date(input.acceptedAt),
  });
});

test('finished requests that still hold an input have it dropped by the sweep', async () => {
  const input = await acknowledgedOnly('finished before its start was recorded');
  await new RequestsRepo(s.pool, s.atRest).finish(input.requestId, 'cancelled', byHand);
  expect((await row(input.requestId))?.start_input).not.toBeNull();
  // Only entries older than WORKFLOW_START_RECOVERY_S are looked at (an index range, not a scan).
  await deferred(real(), 3600).starts.recoverOnce();
  expect((await row(input.requestId))?.start_input).not.toBeNull();
  await deferred(real(), 0).starts.recoverOnce();
  expect(await row(input.requestId)).toEqual({ status: 'cancelled', start_input: null });
  await s.quota.release({
    requestId: input.requestId,
    tenantId: s.tenantId,
    acceptedAt: new Date(input.acceptedAt),
  });
});

test('a sweep with nothing overdue reads the outbox alone, not the requests table', async () => {
  // The requests table only grows; a sweep every WORKFLOW_START_RECOVERY_S / 2 must cost what the
  // outbox holds. A join left to the planner scanned all of `requests` at each sweep.
  const seen: string[] = [];
  const recording = {
    query: (text: string, values?: unknown[]) => {
      seen.push(text);
      return s.pool.query(text, values);
    },
  } as unknown as Pool;
  const tenYearsS = 10 * 365 * 86_400;
  await expect(new PendingStartsRepo(recording).clearFinished(tenYearsS)).resolves.toBe(0);
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatch(/FROM pending_starts/);
  expect(seen[0]).not.toMatch(/requests/);
});

import { Worker } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { createDataConverter } from '../../src/codec/data-converter';
import { startStack, type Stack } from '../support/stack';

/**
 * Eager workflow start (API_EAGER_START): the API runs a workflow worker on the NativeConnection its
 * starts go out on, and the server hands a request's first workflow task straight to it. When that
 * worker is not there the start falls back to the task queue and the orchestration worker runs it.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { API_EAGER_START: 'true' } });
});
afterAll(async () => {
  await s?.stop();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const historyOf = async (id: string): Promise<HistoryEvent[]> =>
  (await s.client.workflow.getHandle(id).fetchHistory()).events ?? [];

/** Identity of the worker that completed the first workflow task. */
const firstTaskCompletedBy = (events: HistoryEvent[]): string | null | undefined =>
  events.find((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes?.identity;

const eagerStarts = async (outcome: 'eager' | 'fallback'): Promise<number> =>
  (await s.metrics.registry.getSingleMetric('inference_workflow_eager_starts_total')?.get())?.values.find(
    (v) => v.labels.outcome === outcome,
  )?.value ?? 0;

test("a request's first workflow task runs in the API that accepted it, and the history replays", async () => {
  const apiWorker = s.node.apiWorker!;
  const ready = await s.call('GET', '/readyz', undefined, null);
  expect(ready.status).toBe(200);
  expect(ready.body.checks['workflow-worker']).toEqual({ status: 'ok' });

  const eagerBefore = await eagerStarts('eager');
  const id = await s.submit('eager', 8);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('completed');
  expect(await eagerStarts('eager')).toBe(eagerBefore + 1);

  const events = await historyOf(id);
  expect(firstTaskCompletedBy(events)).toBe(apiWorker.identity);

  // The same history replays with the workflow code every worker runs (deterministic on either).
  await Worker.runReplayHistory(
    {
      workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
      dataConverter: createDataConverter(s.cfg),
    },
    { events },
    id,
  );
});

test("an API that drains its worker mid-request hands the request's later tasks to the orchestration worker", async () => {
  const apiWorker = s.node.apiWorker!;
  // About three seconds of model call (1 ms per token): the worker drains while the call runs,
  // with room for a loaded host (with one second, the call once ended before the drain did).
  const id = await s.submit('drained mid-request', 3000);
  for (let i = 0; i < 200 && (await s.call('GET', `/v1/inference/${id}`)).body.status !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 25));
  await apiWorker.supervisor.stop();
  const stoppedAt = Date.now();
  const done = await s.waitFinished(id);
  expect(done.status).toBe('completed');
  expect(done.usage.completion_tokens).toBe(3000);
  const completedBy = (await historyOf(id))
    .filter((e) => e.workflowTaskCompletedEventAttributes)
    .map((e) => e.workflowTaskCompletedEventAttributes!.identity);
  // The first task in the API; the last (after the model call) elsewhere, once the API let go of it.
  expect(completedBy[0]).toBe(apiWorker.identity);
  expect(completedBy[completedBy.length - 1]).not.toBe(apiWorker.identity);
  // Handed over at once (the worker tells the server it stopped), not after the sticky queue's
  // 10 s schedule-to-start timeout: the call itself has about three seconds left.
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
});

test('with the API worker not running, the start falls back and the orchestration worker runs the request', async () => {
  const apiWorker = s.node.apiWorker!;
  // Stops the worker only: its connection, which the starts go out on, stays open.
  await apiWorker.supervisor.stop();
  const ready = await s.call('GET', '/readyz', undefined, null);
  expect(ready.status).toBe(503);
  expect(ready.body.checks['workflow-worker']).toEqual({ status: 'down' });

  const fallbackBefore = await eagerStarts('fallback');
  const id = await s.submit('fallback', 8);
  const done = await s.waitFinished(id);
  expect(done.status).toBe('completed');
  expect(done.usage.completion_tokens).toBe(8);
  expect(await eagerStarts('fallback')).toBe(fallbackBefore + 1);

  const completedBy = firstTaskCompletedBy(await historyOf(id));
  expect(completedBy).toBeTruthy();
  expect(completedBy).not.toBe(apiWorker.identity);
});

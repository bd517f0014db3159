import type { Client } from '@temporalio/client';
import { Registry } from 'prom-client';
import { TemporalWorkflowGateway } from '../../../src/inference/workflow-gateway';
import { startMetrics } from '../../../src/inference/start-metrics';
import type { InferenceInput } from '../../../src/shared/types';

/** A client whose workflow.start records its options and answers `eagerlyStarted`. */
function fakeClient(eagerlyStarted: boolean) {
  const calls: Record<string, unknown>[] = [];
  const client = {
    workflow: {
      start: (_wf: unknown, opts: Record<string, unknown>) => {
        calls.push(opts);
        return Promise.resolve({ eagerlyStarted });
      },
    },
  } as unknown as Client;
  return { client, calls };
}

const input = { requestId: 'r-1', tenantId: 't', model: 'm' } as InferenceInput;
const logger = { debug: jest.fn() } as never;
const count = async (registry: Registry, outcome: string): Promise<number> =>
  (await registry.getSingleMetric('inference_workflow_eager_starts_total')!.get()).values.find(
    (v) => v.labels.outcome === outcome,
  )?.value ?? 0;

test('with eager start, starts go out on the eager client asking for it, and the outcome is counted', async () => {
  const registry = new Registry();
  const metrics = startMetrics(registry);
  const plain = fakeClient(false);
  const eager = fakeClient(true);
  const gw = new TemporalWorkflowGateway(plain.client, 'q', {
    eager: { client: eager.client, metrics, logger },
  });
  await gw.start(input);
  expect(plain.calls).toEqual([]);
  expect(eager.calls[0]).toMatchObject({ taskQueue: 'q', workflowId: 'r-1', requestEagerStart: true });
  expect(await count(registry, 'eager')).toBe(1);

  const refused = fakeClient(false);
  await new TemporalWorkflowGateway(plain.client, 'q', {
    eager: { client: refused.client, metrics, logger },
  }).start(input);
  expect(await count(registry, 'fallback')).toBe(1);
});

test('without it, a plain start on the client: no eager request', async () => {
  const plain = fakeClient(false);
  await new TemporalWorkflowGateway(plain.client, 'q').start(input);
  expect(plain.calls[0]).not.toHaveProperty('requestEagerStart');
});

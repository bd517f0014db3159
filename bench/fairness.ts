/**
 * Fairness benchmark: tenant "bulk" bursts 1,000 requests, then tenant "small" sends 10, onto one GPU
 * queue with few slots. Prints each tenant's GPU queue wait (activity scheduled → started) p50/p99,
 * with Temporal's fairness keys on and off.
 *
 *   npm run bench:fairness             (BULK=1000 SMALL=10 SLOTS=2 TOKENS=20 DECODE_MS=2)
 *
 * The orchestration activities are no-ops here: this measures GPU-queue scheduling, not accounting.
 */
import type { AddressInfo } from 'node:net';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import { noopOrchestration } from './harness/noop-orchestration';
import { startEphemeralDevServer } from '../dev/stack/temporal-dev-server';
import { OpenAiAdapter } from '../src/models/openai-adapter';
import { createModelService } from '../dev/model-service/create-model-service';
import { createLogger } from '../src/observability/logger';
import { createMetrics } from '../src/observability/metrics';
import type { InferenceInput } from '../src/shared/types';
import { localCounter } from '../src/tokenizer/token-counter';
import { inferenceWorkflow } from '../workflows';

const num = (name: string, def: number): number => Number(process.env[name] ?? def);
const BULK = num('BULK', 1000);
const SMALL = num('SMALL', 10);
const SLOTS = num('SLOTS', 2);
const TOKENS = num('TOKENS', 20);
const DECODE_MS = num('DECODE_MS', 2);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function run(
  cli: string,
  fairness: boolean,
): Promise<Record<string, { p50: number; p99: number; n: number }>> {
  const server = await startEphemeralDevServer(cli, { fairness });
  const model = createModelService({
    slots: SLOTS,
    decodeMsPerToken: DECODE_MS,
    prefillMsPerToken: 0,
    models: ['bench'],
    faultApi: false,
  });
  const http = model.app.listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const logger = createLogger({ component: 'bench', level: 'silent' });
  const adapter = new OpenAiAdapter({
    baseUrl: url,
    model: 'bench',
    timeoutMs: 600_000,
    counter: localCounter(),
  });
  const gpu = createGpuActivities({
    adapters: new Map([['bench', adapter]]),
    requests: {
      markAttempt: async () => undefined,
      recordAttemptError: async () => undefined,
      recordPartial: async () => undefined,
    },
    metrics: createMetrics('bench'),
    logger,
  });
  const waits: Record<string, number[]> = { bulk: [], small: [] };
  const orchestration = noopOrchestration;
  const native = await NativeConnection.connect({ address: server.address });
  const orch = await Worker.create({
    connection: native,
    taskQueue: 'bench-orch',
    workflowsPath: require.resolve('../workflows'),
    activities: orchestration,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
  const gpuWorker = await Worker.create({
    connection: native,
    taskQueue: 'bench-gpu',
    maxConcurrentActivityTaskExecutions: SLOTS,
    activities: {
      callModel: async (input: InferenceInput) => {
        const info = Context.current().info;
        waits[input.tenantId]!.push(Date.now() - info.currentAttemptScheduledTimestampMs);
        return gpu.callModel(input);
      },
    },
  });
  const running = [orch.run(), gpuWorker.run()];
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const input = (tenant: string, i: number): InferenceInput => ({
    requestId: `${tenant}-${i}-${fairness}`,
    tenantId: tenant,
    model: 'bench',
    prompt: `request ${i}`,
    maxTokens: TOKENS,
    promptTokens: 3,
    estimatedTokens: 3 + TOKENS,
    acceptedAt: new Date().toISOString(),
    gpuTaskQueue: 'bench-gpu',
    modelCall: { timeoutMs: 600_000, maxAttempts: 3 },
    priority: { priorityKey: 3, fairnessKey: tenant },
  });
  const start = (tenant: string, i: number) =>
    client.workflow.start(inferenceWorkflow, {
      workflowId: `${tenant}-${i}-${fairness}`,
      taskQueue: 'bench-orch',
      args: [input(tenant, i)],
    });
  const t0 = Date.now();
  const handles = [];
  for (let i = 0; i < BULK; i += 50)
    handles.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, BULK - i) }, (_, j) => start('bulk', i + j)))),
    );
  handles.push(...(await Promise.all(Array.from({ length: SMALL }, (_, i) => start('small', i)))));
  await Promise.all(handles.map((h) => h.result()));
  const elapsed = Date.now() - t0;
  orch.shutdown();
  gpuWorker.shutdown();
  await Promise.all(running);
  await connection.close();
  await native.close();
  http.close();
  server.proc.kill('SIGTERM');
  await new Promise((r) => server.proc.once('exit', r));
  console.log(
    `  fairness ${fairness ? 'on ' : 'off'}: ${BULK + SMALL} requests in ${(elapsed / 1000).toFixed(1)} s`,
  );
  return Object.fromEntries(
    Object.entries(waits).map(([t, xs]) => [t, { p50: pct(xs, 50), p99: pct(xs, 99), n: xs.length }]),
  );
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = process.env.TEMPORAL_CLI ?? 'temporal';
  console.log(
    `fairness benchmark: bulk=${BULK} small=${SMALL} slots=${SLOTS} tokens=${TOKENS} decode=${DECODE_MS}ms/token`,
  );
  const rows: string[] = [];
  for (const fairness of [false, true]) {
    const r = await run(cli, fairness);
    for (const [tenant, s] of Object.entries(r)) {
      rows.push(`| ${fairness ? 'on' : 'off'} | ${tenant} | ${s.n} | ${s.p50} | ${s.p99} |`);
    }
  }
  console.log(
    '\n| fairness | tenant | requests | queue wait p50 (ms) | queue wait p99 (ms) |\n|---|---|---|---|---|',
  );
  console.log(rows.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

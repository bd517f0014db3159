/**
 * `npm run bench:shapes`: what a request's workflow costs the Temporal server in history events, with
 * patches (today's code) and under Worker Versioning with pinned workflows, on a running server (npm
 * start's dev server by default). The inference workflow runs with stub activities (the model call
 * returns at once), `BENCH_SHAPES_N` requests per mode, sequentially, on fresh task queues:
 *
 * - `patches`: unversioned workers, today's code (its patch markers included);
 * - `pinned`: the same code on workers of a worker deployment version that is current, every workflow
 *   pinned to it (`defaultVersioningBehavior: 'PINNED'`).
 *
 * The difference between the two is what versioning itself adds per request; the patch markers
 * counted are what a versioned build would no longer write (its code needs no patch), and what
 * removing the `deprecatePatch()` calls takes away. Prints a
 * table and writes bench-results/workflow-shapes.json. See docs/benchmarks.md.
 *
 * Env: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_CLI (from the toolchain), BENCH_SHAPES_N (20).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { GpuActivities } from '../activities';
import { noopOrchestration } from './harness/noop-orchestration';
import type { ModelCallResult } from '../src/shared/types';
import { inferenceWorkflow } from '../workflows';
import { inferenceInput } from '../test/support/inference-input';

Runtime.install({ logger: new DefaultLogger('WARN') });

const ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const CLI = process.env.TEMPORAL_CLI ?? 'temporal';
const N = Number(process.env.BENCH_SHAPES_N ?? 20);

const RESULT: ModelCallResult = {
  text: 'ok',
  finishReason: 'stop',
  usageReported: true,
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
};
const orchestration = noopOrchestration;
const gpu: Pick<GpuActivities, 'callModel'> = { callModel: async () => RESULT };

interface ModeResult {
  mode: string;
  requests: number;
  eventsPerRequest: number;
  patchMarkersPerRequest: number;
  upsertsPerRequest: number;
  wallMsP50: number;
}

const EventType = temporal.api.enums.v1.EventType;
const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function runMode(
  mode: string,
  client: Client,
  connection: NativeConnection,
  workflowBundle: { code: string },
  deployment?: WorkerDeploymentOptions,
): Promise<ModeResult> {
  const orchQueue = `shapes-orch-${randomUUID()}`;
  const gpuQueue = `shapes-gpu-${randomUUID()}`;
  const common = { connection, ...(deployment ? { workerDeploymentOptions: deployment } : {}) };
  const orch = await Worker.create({
    ...common,
    taskQueue: orchQueue,
    workflowBundle,
    activities: orchestration,
  });
  const gpuWorker = await Worker.create({ ...common, taskQueue: gpuQueue, activities: gpu });
  const events: number[] = [];
  const markers: number[] = [];
  const upserts: number[] = [];
  const wall: number[] = [];
  await orch.runUntil(
    gpuWorker.runUntil(async () => {
      if (deployment) await makeCurrent(deployment);
      for (let i = 0; i < N; i++) {
        const input = inferenceInput(gpuQueue, { admittedAtAccept: true });
        const t0 = performance.now();
        await client.workflow.execute(inferenceWorkflow, {
          taskQueue: orchQueue,
          workflowId: input.requestId,
          args: [input],
        });
        wall.push(performance.now() - t0);
        const history = await client.workflow.getHandle(input.requestId).fetchHistory();
        const all = history.events ?? [];
        const types = all.map((e) => e.eventType);
        events.push(types.length);
        // Patch markers only (a local activity's result is a marker too).
        markers.push(all.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length);
        upserts.push(
          types.filter((t) => t === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).length,
        );
        if (deployment) {
          // Pinned for real: the server says so, with the version that started it.
          const d = await client.workflow.getHandle(input.requestId).describe();
          const info = d.raw.workflowExecutionInfo?.versioningInfo;
          if (info?.behavior !== temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED)
            throw new Error(`${input.requestId} is not pinned: ${JSON.stringify(info)}`);
        }
      }
    }),
  );
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    mode,
    requests: N,
    eventsPerRequest: mean(events),
    patchMarkersPerRequest: mean(markers),
    upsertsPerRequest: mean(upserts),
    wallMsP50: Math.round(p50(wall) * 10) / 10,
  };
}

/** Makes the version current once the server has seen its workers poll (it refuses until then). */
async function makeCurrent(d: WorkerDeploymentOptions): Promise<void> {
  const args = ['worker', 'deployment', 'set-current-version', '--address', ADDRESS];
  args.push('--deployment-name', d.version.deploymentName, '--build-id', d.version.buildId, '--yes');
  for (let i = 0; ; i++) {
    try {
      execFileSync(CLI, args, { stdio: 'pipe' });
      return;
    } catch (err) {
      if (i >= 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function main(): Promise<void> {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const connection = await NativeConnection.connect({ address: ADDRESS });
  const client = new Client({ connection: await Connection.connect({ address: ADDRESS }) });
  const results: ModeResult[] = [];
  // Alternating, twice each, so both modes see the same drift of a shared host.
  for (let round = 0; round < 2; round++) {
    results.push(await runMode('patches', client, connection, workflowBundle));
    const deploymentName = `shapes-bench-${randomUUID().slice(0, 8)}`;
    results.push(
      await runMode('pinned', client, connection, workflowBundle, {
        version: { deploymentName, buildId: 'b1' },
        useWorkerVersioning: true,
        defaultVersioningBehavior: 'PINNED',
      }),
    );
  }
  console.table(results);
  const dir = join(__dirname, '..', 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'workflow-shapes.json'),
    JSON.stringify({ at: new Date().toISOString(), address: ADDRESS, results }, null, 2),
  );
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

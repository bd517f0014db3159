import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { bareShapeWorkflow, type BareActivities } from '../workflows/bare-shape';

/**
 * The baseline: a workflow of inferenceWorkflow's shape whose activities do nothing, with its two
 * workers (orchestration queue + a second "GPU" queue) in this process, on the same Temporal server.
 */
export async function startBareTemporal(address: string, namespace: string) {
  const suffix = randomBytes(3).toString('hex');
  const orchQueue = `bare-orch-${suffix}`;
  const gpuQueue = `bare-gpu-${suffix}`;
  const native = await NativeConnection.connect({ address });
  const nothing: BareActivities = {
    admit: () => Promise.resolve(true),
    record: () => Promise.resolve(),
    commit: () => Promise.resolve(),
    call: (id) => Promise.resolve(id),
  };
  const workers = [
    await Worker.create({
      connection: native,
      namespace,
      taskQueue: orchQueue,
      workflowsPath: require.resolve('../workflows/bare-shape'),
      activities: nothing,
    }),
    await Worker.create({
      connection: native,
      namespace,
      taskQueue: gpuQueue,
      activities: { call: (id: string) => nothing.call(id) },
    }),
  ];
  const running = workers.map((w) => w.run());
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  return {
    /** Runs one bare workflow to completion. */
    async run(i: number): Promise<void> {
      await client.workflow.execute(bareShapeWorkflow, {
        taskQueue: orchQueue,
        workflowId: `bare-${suffix}-${i}`,
        args: [String(i), gpuQueue],
      });
    },
    /** Events in the history of the bare workflow that `run(i)` ran. */
    async events(i: number): Promise<number> {
      return (await client.workflow.getHandle(`bare-${suffix}-${i}`).fetchHistory()).events?.length ?? 0;
    },
    async stop(): Promise<void> {
      workers.forEach((w) => w.shutdown());
      await Promise.allSettled(running);
      await Promise.allSettled([connection.close(), native.close()]);
    },
  };
}

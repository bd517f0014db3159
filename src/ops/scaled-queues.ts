import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import { parseAllDocuments } from 'yaml';
import { type QueueKind, describeTaskQueue } from '../observability/task-queue-stats';
import { type ScalingTarget, kedaDesiredReplicas } from './keda-replicas';

/** One ScaledObject's temporal trigger: the queue KEDA watches and how it sizes the target. */
export interface ScaledQueue extends ScalingTarget {
  /** The ScaledObject's name. */
  name: string;
  /** Temporal namespace of the trigger. @default default */
  namespace: string;
  taskQueue: string;
  /** Task types whose backlog KEDA adds up. @default workflow (KEDA's default) */
  queueTypes: QueueKind[];
}

interface ScaledObjectDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers?: { type?: string; metadata?: Record<string, string> }[];
  };
}

/** The temporal triggers of the ScaledObjects among `docs`, with KEDA's defaults filled in. */
export function scaledQueuesFromDocs(docs: unknown[]): ScaledQueue[] {
  return (docs as ScaledObjectDoc[])
    .filter((d) => d?.kind === 'ScaledObject')
    .flatMap((d) =>
      (d.spec?.triggers ?? [])
        .filter((t) => t.type === 'temporal' && t.metadata?.taskQueue)
        .map((t) => {
          const md = t.metadata!;
          return {
            name: d.metadata?.name ?? '?',
            namespace: md.namespace ?? 'default',
            taskQueue: md.taskQueue!,
            queueTypes: (md.queueTypes ?? 'workflow')
              .split(',')
              .map((x) => x.trim())
              .filter((x): x is QueueKind => x === 'workflow' || x === 'activity'),
            targetQueueSize: Number(md.targetQueueSize ?? 5),
            activationTargetQueueSize: Number(md.activationTargetQueueSize ?? 0),
            minReplicaCount: d.spec?.minReplicaCount ?? 0,
            maxReplicaCount: d.spec?.maxReplicaCount ?? 100,
          };
        }),
    );
}

/** Every `*.yaml` under `dir`, recursively, in name order. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return f.endsWith('.yaml') || f.endsWith('.yml') ? [p] : [];
    });
}

/** The ScaledObjects' temporal triggers in the YAML files under `dir` (e.g. manifests/base). */
export function readScaledQueues(dir: string): ScaledQueue[] {
  return scaledQueuesFromDocs(
    yamlFiles(dir).flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as unknown)),
  );
}

/** One line of `npm run scaling`. */
export interface ScalingRow {
  queue: ScaledQueue;
  /** Waiting tasks, summed over the trigger's queue types (as KEDA sums them). */
  backlog: number;
  /** Workers polling, the most over the queue types. */
  pollers: number;
  /** Replicas KEDA would ask for. */
  desired: number;
}

/** Reads the backlog the way KEDA's temporal scaler does and applies its formula. */
export async function scalingRow(
  connection: Pick<Connection, 'workflowService'>,
  queue: ScaledQueue,
): Promise<ScalingRow> {
  const stats = await Promise.all(
    queue.queueTypes.map((kind) => describeTaskQueue(connection, queue.namespace, queue.taskQueue, kind)),
  );
  const backlog = stats.reduce((sum, s) => sum + s.backlog, 0);
  const pollers = Math.max(0, ...stats.map((s) => s.pollers));
  return { queue, backlog, pollers, desired: kedaDesiredReplicas(backlog, queue) };
}

/** The rows as a fixed-width table. */
export function formatRows(rows: ScalingRow[]): string {
  const head = ['SCALEDOBJECT', 'TASK QUEUE', 'BACKLOG', 'POLLERS', 'TARGET', 'MIN-MAX', 'REPLICAS'];
  const body = rows.map((r) => [
    r.queue.name,
    `${r.queue.taskQueue} (${r.queue.queueTypes.join(',')})`,
    String(r.backlog),
    String(r.pollers),
    String(r.queue.targetQueueSize),
    `${r.queue.minReplicaCount}-${r.queue.maxReplicaCount}`,
    String(r.desired),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

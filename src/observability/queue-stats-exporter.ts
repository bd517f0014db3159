import type { Connection } from '@temporalio/client';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { describeTaskQueue, type QueueKind } from './task-queue-stats';

/** Options of {@link QueueStatsExporter}. */
export interface QueueStatsExporterOptions {
  connection: Pick<Connection, 'workflowService'>;
  namespace: string;
  /** Queues to watch: every GPU queue (activity) and the orchestration queue (workflow, activity). */
  queues: { name: string; kind: QueueKind }[];
  metrics: Pick<Metrics, 'taskQueueBacklog' | 'taskQueueBacklogAge' | 'taskQueuePollers'>;
  logger: Logger;
  /** @default 10000 (KEDA's default polling interval is 30 s; this one feeds dashboards and alerts) */
  intervalMs?: number;
}

/**
 * Exports Temporal task-queue statistics as gauges: backlog, age of the oldest task and pollers per
 * queue, read with DescribeTaskQueue like KEDA's temporal scaler. They drive the "backlog growing
 * with no worker" alert and the GPU queue panels. Every replica exports them: aggregate with max().
 */
export class QueueStatsExporter {
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(private readonly o: QueueStatsExporterOptions) {}

  start(): void {
    void this.collect();
    this.timer = setInterval(() => void this.collect(), this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round over every queue; a failure is logged once until a round succeeds again. */
  async collect(): Promise<void> {
    try {
      for (const q of this.o.queues) {
        const s = await describeTaskQueue(this.o.connection, this.o.namespace, q.name, q.kind);
        const labels = { task_queue: q.name, type: q.kind };
        this.o.metrics.taskQueueBacklog.set(labels, s.backlog);
        this.o.metrics.taskQueueBacklogAge.set(labels, s.backlogAgeS);
        this.o.metrics.taskQueuePollers.set(labels, s.pollers);
      }
      if (this.failing) this.o.logger.info('task queue statistics readable again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.o.logger.warn({ err }, 'cannot read task queue statistics');
      this.failing = true;
    }
  }
}

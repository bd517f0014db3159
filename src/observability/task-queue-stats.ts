import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/** What Temporal reports of one task queue: the figures KEDA's `temporal` scaler reads. */
export interface TaskQueueStats {
  /** Tasks no worker has picked up yet (approximate). */
  backlog: number;
  /** Age of the oldest waiting task, seconds (0 when none waits). */
  backlogAgeS: number;
  /**
   * Workers polling the queue now: seen within {@link LIVE_POLLER_S} (a long poll lasts about a
   * minute). Temporal itself lists a poller for minutes after it stopped.
   */
  pollers: number;
  /** Tasks added and dispatched per second, recent average. */
  addRate: number;
  dispatchRate: number;
}

/** Activity queues carry model calls (GPU queues); workflow queues carry workflow tasks. */
export type QueueKind = 'activity' | 'workflow';

/** A poller whose last poll began longer ago than this is gone (long polls last ~60 s). */
export const LIVE_POLLER_S = 75;

const TYPE = {
  activity: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  workflow: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
} as const;

/** One DescribeTaskQueue call with statistics (the same call KEDA's temporal scaler makes). */
export async function describeTaskQueue(
  connection: Pick<Connection, 'workflowService'>,
  namespace: string,
  taskQueue: string,
  kind: QueueKind,
): Promise<TaskQueueStats> {
  const r = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: TYPE[kind],
    reportStats: true,
  });
  const s = r.stats;
  const age = s?.approximateBacklogAge;
  return {
    backlog: Number(s?.approximateBacklogCount ?? 0),
    backlogAgeS: Number(age?.seconds ?? 0) + (age?.nanos ?? 0) / 1e9,
    pollers: r.pollers.filter((p) => {
      const at = Number(p.lastAccessTime?.seconds ?? 0);
      return at === 0 || Date.now() / 1000 - at < LIVE_POLLER_S;
    }).length,
    addRate: s?.tasksAddRate ?? 0,
    dispatchRate: s?.tasksDispatchRate ?? 0,
  };
}

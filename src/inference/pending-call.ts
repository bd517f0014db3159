import type { WorkflowClient } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/** The model call of a request as Temporal sees it (its pending GPU activity). */
export interface PendingCall {
  /** `started`: a GPU worker has taken the call; `scheduled`: it waits on the queue. */
  state: 'scheduled' | 'started';
  attempt: number;
  /** Seconds since a worker took the current attempt (started only). */
  startedAgoS?: number;
  /** Seconds since the last heartbeat of the current attempt, if any. */
  heartbeatAgoS?: number;
  /** Identity of the worker that took it (pid@host). */
  worker?: string;
}

const seconds = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined =>
  t?.seconds === undefined || t.seconds === null ? undefined : Number(t.seconds) + (t.nanos ?? 0) / 1e9;

/**
 * The request's pending model call, from DescribeWorkflowExecution (one call; made only for a request
 * that PostgreSQL still shows as queued). Undefined when no model call is pending.
 */
export async function describePendingCall(
  client: Pick<WorkflowClient, 'getHandle'>,
  requestId: string,
  now = Date.now(),
): Promise<PendingCall | undefined> {
  const d = await client.getHandle(requestId).describe();
  const call = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'callModel');
  if (!call) return undefined;
  const started = call.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const ago = (t: Parameters<typeof seconds>[0]): number | undefined => {
    const s = seconds(t);
    return s === undefined ? undefined : Math.max(0, Math.round((now / 1000 - s) * 10) / 10);
  };
  return {
    state: started ? 'started' : 'scheduled',
    attempt: call.attempt ?? 1,
    ...(started ? { startedAgoS: ago(call.lastStartedTime) } : {}),
    ...(call.lastHeartbeatTime ? { heartbeatAgoS: ago(call.lastHeartbeatTime) } : {}),
    ...(call.lastWorkerIdentity ? { worker: call.lastWorkerIdentity } : {}),
  };
}

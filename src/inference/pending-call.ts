import type { WorkflowClient } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { CALL_MODEL_ACTIVITY } from '../contract/temporal-contract';

/** The model call of a request as Temporal sees it (its pending GPU activity). */
export interface PendingCall {
  /** `started`: a GPU worker has taken the call; `scheduled`: it waits on the queue. */
  state: 'scheduled' | 'started';
  attempt: number;
  /** Seconds since a worker took the current attempt (started only). */
  startedAgoS?: number;
  /** Identity of the worker that took it (pid@host). */
  worker?: string;
}

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
  const call = d.raw.pendingActivities?.find((a) => a.activityType?.name === CALL_MODEL_ACTIVITY);
  if (!call) return undefined;
  const started = call.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const ago = (t: Parameters<typeof optionalTsToMs>[0]): number | undefined => {
    const ms = optionalTsToMs(t);
    return ms === undefined ? undefined : Math.max(0, Math.round((now - ms) / 100) / 10);
  };
  return {
    state: started ? 'started' : 'scheduled',
    attempt: call.attempt ?? 1,
    ...(started ? { startedAgoS: ago(call.lastStartedTime) } : {}),
    ...(call.lastWorkerIdentity ? { worker: call.lastWorkerIdentity } : {}),
  };
}

import type { Pool } from 'pg';
import type { ModelRegistry } from '../models/model-registry';
import type { RequestRecord } from '../requests/requests-repo';
import type { TaskQueueStats } from '../observability/task-queue-stats';
import type { PendingCall } from './pending-call';

/** Why a waiting request does not move, most specific first. */
export type WaitReason =
  'no_worker' | 'worker_unresponsive' | 'model_failing' | 'tenant_backlog' | 'gpus_busy' | 'moving';

/**
 * A healthy GPU worker marks the request running within milliseconds of taking its call; one that
 * took it this long ago without doing so is hung (stopped process, lost network, frozen node).
 */
export const UNRESPONSIVE_AFTER_S = 5;

/** What `GET /v1/inference/:id` says of a request waiting for a GPU. */
export interface QueueView {
  task_queue: string;
  /** Approximate place in line: 1 = next. Requests accepted earlier on the same GPU queue, plus one. */
  position: number;
  /** Of those ahead, how many are the caller's own (the tenant's fairness share goes to them first). */
  ahead_own: number;
  /** Seconds until a GPU worker should pick it up, from the queue's recent dispatch rate; null when nothing moves. */
  eta_s: number | null;
  /** GPU workers polling the queue now. */
  workers: number;
  /** Calls dispatched to GPU workers per second, recent average. */
  dispatch_rate: number;
  diagnosis: {
    reason: WaitReason;
    message: string;
    last_error?: string;
    attempt?: number;
    /** worker_unresponsive: the worker holding the call. */
    worker?: string;
  };
}

/** Options of {@link QueueInsight}. */
export interface QueueInsightOptions {
  pool: Pool;
  registry: ModelRegistry;
  /** DescribeTaskQueue statistics of an activity queue (cached by the caller or not). */
  stats: (taskQueue: string) => Promise<TaskQueueStats>;
  /** Reuse a queue's statistics for this long, so status polling does not hammer Temporal. @default 2000 */
  statsTtlMs?: number;
  /**
   * The request's pending model call as Temporal sees it (asked only of a request PostgreSQL shows
   * as queued). None: hung workers are not diagnosed.
   */
  pendingCall?: (requestId: string) => Promise<PendingCall | undefined>;
}

/**
 * Position, ETA and diagnosis of a request that waits for a GPU (status `queued`: admitted, its
 * model call scheduled, no worker has taken it yet), or between two attempts (`running` with a
 * last error). One indexed count in PostgreSQL plus one DescribeTaskQueue per queue every 2 s.
 */
export class QueueInsight {
  private readonly cache = new Map<string, { at: number; stats: Promise<TaskQueueStats> }>();

  constructor(private readonly o: QueueInsightOptions) {}

  /** Whether {@link view} has something to say about this request. */
  static applies(r: RequestRecord): boolean {
    return (
      r.status === 'queued' || (r.status === 'running' && r.lastError !== null && r.lastError !== undefined)
    );
  }

  async view(r: RequestRecord): Promise<QueueView | undefined> {
    const spec = this.o.registry.get(r.model);
    if (!spec) return undefined;
    const queue = spec.gpu_task_queue;
    const models = (this.o.registry.queues().get(queue) ?? [spec]).map((m) => m.name);
    const [{ rows }, stats, call] = await Promise.all([
      this.o.pool.query<{ ahead: string; own: string }>(
        `SELECT count(*) AS ahead, count(*) FILTER (WHERE tenant_id = $3) AS own
           FROM requests WHERE status = 'queued' AND model = ANY($1) AND accepted_at < $2`,
        [models, r.acceptedAt, r.tenantId],
      ),
      this.stats(queue),
      r.status === 'queued' && this.o.pendingCall
        ? this.o.pendingCall(r.id).catch(() => undefined)
        : Promise.resolve(undefined),
    ]);
    const ahead = Number(rows[0]?.ahead ?? 0);
    const own = Number(rows[0]?.own ?? 0);
    const position = ahead + 1;
    const rate = stats.dispatchRate;
    return {
      task_queue: queue,
      position,
      ahead_own: own,
      eta_s: rate > 0 ? Math.round((position / rate) * 10) / 10 : null,
      workers: stats.pollers,
      dispatch_rate: Math.round(rate * 100) / 100,
      diagnosis: diagnose(r, { ahead, own, stats, slots: spec.gpu_slots_per_worker, call }),
    };
  }

  private stats(queue: string): Promise<TaskQueueStats> {
    const hit = this.cache.get(queue);
    if (hit && Date.now() - hit.at < (this.o.statsTtlMs ?? 2000)) return hit.stats;
    const stats = this.o.stats(queue);
    this.cache.set(queue, { at: Date.now(), stats });
    stats.catch(() => this.cache.delete(queue));
    return stats;
  }
}

/** The most specific reason a request waits; pure, so each cause is unit-tested. */
export function diagnose(
  r: Pick<RequestRecord, 'status' | 'attempts' | 'lastError'>,
  q: { ahead: number; own: number; stats: TaskQueueStats; slots: number; call?: PendingCall },
): QueueView['diagnosis'] {
  const c = q.call;
  if (r.status === 'queued' && c?.state === 'started' && (c.startedAgoS ?? 0) >= UNRESPONSIVE_AFTER_S) {
    return {
      reason: 'worker_unresponsive',
      message: `GPU worker ${c.worker ?? '(unknown)'} took attempt ${c.attempt} ${c.startedAgoS} s ago and has not reported since (stopped, cut off or frozen); Temporal gives the call to another worker when its heartbeat timeout passes`,
      attempt: c.attempt,
      ...(c.worker ? { worker: c.worker } : {}),
    };
  }
  if (q.stats.pollers === 0) {
    return {
      reason: 'no_worker',
      message:
        'no GPU worker polls this queue: it is scaled to zero and starting (KEDA activates it on the backlog), or every worker is down',
    };
  }
  if (r.lastError) {
    return {
      reason: 'model_failing',
      message: `the model service failed attempt ${r.attempts}; the call is retried with backoff`,
      last_error: r.lastError,
      attempt: r.attempts,
    };
  }
  if (q.own > 0 && q.own * 2 >= q.ahead) {
    return {
      reason: 'tenant_backlog',
      message: `${q.own} of the ${q.ahead} requests ahead are your own: with per-tenant fairness, other tenants' requests are not what holds this one back`,
    };
  }
  if (q.ahead >= q.stats.pollers * q.slots) {
    return {
      reason: 'gpus_busy',
      message: `${q.ahead} requests are ahead and the ${q.stats.pollers} GPU worker(s) run ${q.slots} calls each; more workers are added as the backlog grows`,
    };
  }
  return { reason: 'moving', message: 'waiting for the next free GPU slot' };
}

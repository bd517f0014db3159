import { Router } from 'express';
import type { WorkflowGateway } from '../../inference/workflow-gateway';
import type { AcceptedIds } from '../../requests/accepted-ids';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import type { RequestFollower } from '../../streams/request-follower';
import type { StreamMetrics } from '../../streams/stream-metrics';
import { terminalStatusOf } from '../../streams/await-end';
import { StreamText } from '../../streams/stream-text';
import { tenantOf } from '../auth';
import { endedBody, holdIn, type LiveConnections } from '../live-connections';
import { clientGone, SseWriter } from '../sse';
import { findOwned } from './find-owned';

/** The last event of a stream: where the request ended and what it cost. */
export function doneEvent(r: RequestRecord | undefined, id: string, status: string): Record<string, unknown> {
  return {
    id,
    status: r?.status ?? status,
    ...(r?.finishReason ? { finish_reason: r.finishReason } : {}),
    ...(r?.stopReason ? { stop_reason: r.stopReason } : {}),
    ...(r?.usage ? { usage: r.usage } : {}),
    ...(r?.error ? { error: r.error } : {}),
  };
}

/** Stream ids look like `1700000000000-0`; anything else restarts from the beginning. */
const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * GET /v1/inference/:id/stream: Server-Sent Events of the request's generated text as the GPU
 * produces it. A late client first gets everything produced so far; `Last-Event-ID` resumes after
 * the last event seen. Events: `attempt` (a model attempt starts; `continued: true` when it
 * continues the text so far, `restarted: true` when an earlier attempt's text is void), `token`
 * ({text}), `attempt_end` (finish_reason, and stop_reason `quota_exhausted` when the tenant's token
 * limits stopped the generation), and `done` (status, finish_reason, stop_reason, usage, error)
 * before the stream closes. Text of an attempt older than the newest one is not sent (StreamText).
 */
export function streamRoutes(deps: {
  requests: RequestsRepo;
  workflows: WorkflowGateway;
  /** Ids accepted without their row yet: only those are looked up in Temporal. */
  accepted: AcceptedIds;
  follower: RequestFollower;
  streamMetrics: StreamMetrics;
  /** Open streams, ended when their key is revoked or their tenant disabled. @default none */
  live?: LiveConnections;
}): Router {
  const router = Router();
  router.get('/v1/inference/:id/stream', async (req, res) => {
    const tenantId = tenantOf(req).id;
    const found = await findOwned(deps, String(req.params.id), tenantId);
    const lastId = req.header('last-event-id');
    const afterId = lastId && STREAM_ID.test(lastId) ? lastId : undefined;
    const signal = clientGone(res);
    const held = holdIn(deps.live, req, 'sse');
    const sse = new SseWriter(res);
    deps.streamMetrics.clientsAttached.inc({ kind: 'sse' });
    let sentText = false;
    const view = new StreamText();
    try {
      for await (const { id, event } of deps.follower.follow(found.id, {
        afterId,
        signal: AbortSignal.any([signal, held.signal]),
        terminalStatus: terminalStatusOf(deps.requests, found.id, tenantId),
      })) {
        const step = view.apply(event);
        if (event.type === 'attempt') {
          const restarted = step.restart === true;
          sse.event(
            {
              attempt: event.attempt,
              restarted,
              ...(event.continues && !restarted ? { continued: true } : {}),
            },
            { id, event: 'attempt' },
          );
        } else if (event.type === 'text') {
          if (step.show === undefined) continue;
          sentText = true;
          sse.event({ text: step.show, attempt: event.attempt }, { id, event: 'token' });
        } else if (event.type === 'end') {
          sse.event(
            {
              attempt: event.attempt,
              finish_reason: event.finishReason,
              ...(event.stopReason ? { stop_reason: event.stopReason } : {}),
            },
            { id, event: 'attempt_end' },
          );
        } else {
          const row = await deps.requests.get(found.id, tenantId);
          // The live stream expired (or never reached this client): the stored output stands in.
          if (!sentText && !afterId && row?.output) sse.event({ text: row.output }, { event: 'token' });
          sse.event(doneEvent(row, found.id, event.status), { id, event: 'done' });
        }
      }
      // The key was revoked or the tenant disabled: the stream ends with why (the request runs on
      // after a revoke; a disable cancels it).
      if (held.signal.aborted && !signal.aborted) sse.event(endedBody(held.signal), { event: 'error' });
    } catch (err) {
      if (held.signal.aborted && !signal.aborted) sse.event(endedBody(held.signal), { event: 'error' });
      else if (!signal.aborted) {
        sse.event(
          { error: { type: 'service_unavailable', message: (err as Error).message } },
          { event: 'error' },
        );
      }
    } finally {
      held.release();
      deps.streamMetrics.clientsAttached.dec({ kind: 'sse' });
      sse.end();
    }
  });
  return router;
}

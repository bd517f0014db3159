import { Router, type Request, type Response } from 'express';
import { AppError } from '../../errors/app-error';
import { idempotencyKeyOf } from '../../idempotency/idempotency-key';
import type { AcceptService } from '../../inference/accept-service';
import { requestIdSchema } from '../../inference/submit-schema';
import type { WorkflowGateway } from '../../inference/workflow-gateway';
import type { Logger } from '../../observability/logger';
import { ResponseEventSequence, type ResponseStreamEvent } from '../../openai/responses/response-events';
import {
  responseObject,
  responseStatusOf,
  TERMINAL_RESPONSE_STATUSES,
  type ResponseHead,
} from '../../openai/responses/response-format';
import type { ResponseMetrics } from '../../openai/responses/response-metrics';
import { inputItemsQuery, retrieveQuery } from '../../openai/responses/response-queries';
import {
  responseBody,
  responseParamOf,
  toResponseAccept,
  withItemIds,
} from '../../openai/responses/response-request';
import type { ResponseRow, ResponsesRepo } from '../../openai/responses/responses-repo';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import { awaitEnd, terminalStatusOf } from '../../streams/await-end';
import type { RequestFollower } from '../../streams/request-follower';
import type { StreamMetrics } from '../../streams/stream-metrics';
import { tenantOf } from '../auth';
import { endedBody, holdIn, type Held, type LiveConnections } from '../live-connections';
import { parseStrict } from '../query-schemas';
import { clientGone, SseWriter } from '../sse';

/** Dependencies of {@link responsesRoutes}. */
export interface ResponsesRoutesDeps {
  /** The accept path (idempotency, quota, submit, wait) of every surface. */
  accept: AcceptService;
  requests: RequestsRepo;
  responses: ResponsesRepo;
  workflows: WorkflowGateway;
  follower: RequestFollower;
  streamMetrics: StreamMetrics;
  responseMetrics: ResponseMetrics;
  logger: Logger;
  /** Longest a foreground call waits for its response: the request deadline plus a margin. */
  waitMaxMs: number;
  /** Longest a cancel waits for its response to end before answering. @default 10000 */
  cancelWaitMs?: number;
  /** Open streams and waits, ended when their key is revoked or their tenant disabled. @default none */
  live?: LiveConnections;
}

const headOf = (r: ResponseRow): ResponseHead => ({
  id: r.id,
  model: r.model,
  createdAt: Math.floor(r.createdAt.getTime() / 1000),
  background: r.background,
  store: r.store,
  request: r.request,
  metadata: r.metadata,
});

/**
 * OpenAI's Responses API (`/v1/responses`): each response is one durable request (the same id in
 * `GET /v1/inference/:id`, the ledger and the Web UI), accepted through the one accept path (quota,
 * Idempotency-Key, ledger). Its events are derived from the request's token relay, numbered
 * deterministically ({@link ResponseEventSequence}), so a stream resumes on any replica.
 */
export function responsesRoutes(deps: ResponsesRoutesDeps): Router {
  const router = Router();
  const { responses, requests, responseMetrics: metrics, logger } = deps;

  /** The caller's stored response, or a 404 naming `id` (another tenant's, deleted, or unstored). */
  const owned = async (req: Request, operation: string): Promise<ResponseRow> => {
    const raw = String(req.params.id);
    const id = requestIdSchema.safeParse(raw);
    const row = id.success ? await responses.get(id.data, tenantOf(req).id) : undefined;
    if (!row) {
      metrics.operations.inc({ operation, outcome: 'not_found' });
      throw new AppError(ErrorType.NotFound, `no response ${raw}`, { param: 'id' });
    }
    return row;
  };

  router.post('/v1/responses', async (req, res) => {
    const tenant = tenantOf(req);
    const key = idempotencyKeyOf(req);
    const body = parseStrict(responseBody, req.body);
    const a = toResponseAccept(body);
    if (a.background && !a.store) {
      throw new AppError(ErrorType.InvalidRequest, 'background responses need store: true', {
        param: 'store',
      });
    }
    const accepted = await deps.accept
      .accept({
        tenant,
        idempotencyKey: key,
        endpoint: 'POST /v1/responses',
        body,
        submit: a.submit,
        sampling: a.sampling,
        afterReserve: (i) =>
          responses.insert({
            id: i.requestId,
            tenantId: tenant.id,
            model: i.model,
            background: a.background,
            store: a.store,
            request: withItemIds(i.requestId, a.stored),
            metadata: a.metadata,
            createdAt: new Date(i.acceptedAt),
          }),
      })
      .catch((err: unknown) => {
        // The accept path checked the chat request: name the field of the Responses body instead.
        if (err instanceof AppError && err.param) {
          throw new AppError(err.type, err.message, {
            param: responseParamOf(err.param, a, typeof body.input === 'string'),
            retryAfterS: err.retryAfterS,
            headers: err.headers,
            cause: err,
          });
        }
        throw err;
      });
    const { input } = accepted;
    const id = input.requestId;
    if (accepted.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('X-Request-Id', id);
    const head: ResponseHead = {
      id,
      model: input.model,
      createdAt: Math.floor(Date.parse(input.acceptedAt) / 1000),
      background: a.background,
      store: a.store,
      request: withItemIds(id, a.stored),
      metadata: a.metadata,
    };
    const stream = body.stream === true;
    metrics.created.inc({ mode: a.background ? 'background' : 'foreground', stream: String(stream) });
    logger.info(
      { requestId: id, tenant: tenant.id, background: a.background, stream, store: a.store },
      'response created',
    );
    const gone = clientGone(res);
    // A foreground response ends with its client, as the chat streams do; a background one runs on.
    // With an Idempotency-Key the client said it will retry: its retry attaches to the same request.
    const cancelOnDisconnect =
      !a.background && !key && (stream || req.header('x-cancel-on-disconnect')?.toLowerCase() !== 'false');
    if (cancelOnDisconnect) {
      gone.addEventListener('abort', () => {
        deps.streamMetrics.disconnectCancels.inc({ endpoint: 'responses' });
        logger.info({ requestId: id, endpoint: 'responses' }, 'client disconnected: cancelling its request');
        deps.workflows
          .cancel(id)
          .catch((err: unknown) => logger.warn({ err, requestId: id }, 'cancel failed'));
      });
    }
    if (stream) {
      await streamEvents(head, -1, { gone, req, res, resumed: false });
      return;
    }
    if (a.background) {
      const row = accepted.replayed ? await requests.get(id, tenant.id) : undefined;
      res.json(responseObject(head, responseStatusOf(row), row));
      return;
    }
    const held = holdIn(deps.live, req, 'wait');
    const ended = await deps.accept
      .wait(accepted, AbortSignal.any([gone, held.signal, AbortSignal.timeout(deps.waitMaxMs)]))
      .finally(held.release);
    if (gone.aborted) return;
    if (held.signal.aborted) throw held.signal.reason;
    // Not ended within the wait: the response as it stands (it runs on; GET /v1/responses/:id).
    const row = ended ?? (await requests.get(id, tenant.id));
    res.json(responseObject(head, responseStatusOf(row), row));
  });

  router.get('/v1/responses/:id', async (req, res) => {
    const query = retrieveQuery.parse(req.query);
    const resume = query.stream === 'true';
    const r = await owned(req, resume ? 'resume' : 'retrieve');
    if (resume) {
      // An EventSource reconnecting sends the last `id:` it saw (the sequence number) as Last-Event-ID.
      const lastId = req.header('last-event-id');
      if (query.starting_after === undefined && lastId !== undefined && !/^\d{1,9}$/.test(lastId)) {
        throw new AppError(ErrorType.InvalidRequest, 'Last-Event-ID: not a sequence number', {
          param: 'Last-Event-ID',
        });
      }
      const after = query.starting_after ?? (lastId !== undefined ? Number(lastId) : -1);
      metrics.operations.inc({ operation: 'resume', outcome: 'ok' });
      logger.info({ requestId: r.id, startingAfter: after }, 'response stream resumed');
      await streamEvents(headOf(r), after, { gone: clientGone(res), req, res, resumed: true });
      return;
    }
    metrics.operations.inc({ operation: 'retrieve', outcome: 'ok' });
    const row = await requests.get(r.id, r.tenantId);
    res.json(responseObject(headOf(r), responseStatusOf(row), row));
  });

  router.post('/v1/responses/:id/cancel', async (req, res) => {
    const r = await owned(req, 'cancel');
    if (!r.background) {
      metrics.operations.inc({ operation: 'cancel', outcome: 'refused' });
      throw new AppError(ErrorType.InvalidRequest, 'only background responses can be cancelled', {
        param: 'id',
      });
    }
    let row: RequestRecord | undefined = await requests.get(r.id, r.tenantId);
    const before = responseStatusOf(row);
    if (!TERMINAL_RESPONSE_STATUSES.includes(before)) {
      await deps.workflows.cancel(r.id);
      // The answer is the response once it ended (cancelled, or whatever it reached first).
      row =
        (await awaitEnd(deps, r.id, r.tenantId, AbortSignal.timeout(deps.cancelWaitMs ?? 10_000))) ??
        (await requests.get(r.id, r.tenantId));
    }
    metrics.operations.inc({ operation: 'cancel', outcome: 'ok' });
    const status = responseStatusOf(row);
    logger.info({ requestId: r.id, before, after: status }, 'response cancel asked');
    res.json(responseObject(headOf(r), status, row));
  });

  router.delete('/v1/responses/:id', async (req, res) => {
    const r = await owned(req, 'delete');
    if (!(await responses.delete(r.id, r.tenantId))) {
      metrics.operations.inc({ operation: 'delete', outcome: 'not_found' });
      throw new AppError(ErrorType.NotFound, `no response ${r.id}`, { param: 'id' });
    }
    metrics.operations.inc({ operation: 'delete', outcome: 'ok' });
    logger.info({ requestId: r.id, tenant: r.tenantId }, 'response deleted');
    res.json({ id: r.id, object: 'response', deleted: true });
  });

  router.get('/v1/responses/:id/input_items', async (req, res) => {
    const q = inputItemsQuery.parse(req.query);
    const r = await owned(req, 'input_items');
    const all = r.request?.input ?? [];
    const ordered = q.order === 'asc' ? all : [...all].reverse();
    let from = 0;
    if (q.after !== undefined) {
      const i = ordered.findIndex((m) => m.id === q.after);
      if (i < 0) {
        metrics.operations.inc({ operation: 'input_items', outcome: 'refused' });
        throw new AppError(ErrorType.InvalidRequest, `after: no input item ${q.after} in ${r.id}`, {
          param: 'after',
        });
      }
      from = i + 1;
    }
    const data = ordered.slice(from, from + q.limit);
    metrics.operations.inc({ operation: 'input_items', outcome: 'ok' });
    logger.debug({ requestId: r.id, items: data.length }, 'response input items listed');
    res.json({
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data[data.length - 1]?.id ?? null,
      has_more: from + q.limit < ordered.length,
    });
  });

  /**
   * Streams the response's events after sequence number `after` (-1: all): the relay's entries from
   * the first, numbered by {@link ResponseEventSequence}, until the response ends or the client goes.
   */
  async function streamEvents(
    head: ResponseHead,
    after: number,
    c: { gone: AbortSignal; req: Request; res: Response; resumed: boolean },
  ): Promise<void> {
    const tenantId = tenantOf(c.req).id;
    const held: Held = holdIn(deps.live, c.req, 'openai_stream');
    const sse = new SseWriter(c.res);
    const kind = { kind: 'openai_stream' };
    const resumed = { resumed: String(c.resumed) };
    deps.streamMetrics.clientsAttached.inc(kind);
    const events = new ResponseEventSequence(head);
    let last = after;
    const send = (list: ResponseStreamEvent[]): void => {
      for (const e of list) {
        if (e.sequence_number <= after) continue;
        sse.event(e, { event: e.type, id: String(e.sequence_number) });
        last = e.sequence_number;
        metrics.streamEvents.inc(resumed);
      }
    };
    // An error event is not numbered: it is not part of the response, and a resume would not see it.
    const fail = (type: string, message: string): void =>
      sse.event({ type: 'error', code: type, message, param: null, after: last }, { event: 'error' });
    try {
      send(events.start());
      for await (const { event } of deps.follower.follow(head.id, {
        signal: AbortSignal.any([c.gone, held.signal]),
        terminalStatus: terminalStatusOf(requests, head.id, tenantId),
      })) {
        if (event.type !== 'final') {
          send(events.entry(event));
          continue;
        }
        const row = await requests.get(head.id, tenantId);
        const status = responseStatusOf(row);
        send(events.end(TERMINAL_RESPONSE_STATUSES.includes(status) ? status : 'failed', row));
      }
      if (held.signal.aborted && !c.gone.aborted) fail(endedBody(held.signal).error.type, 'stream ended');
    } catch (err) {
      if (held.signal.aborted && !c.gone.aborted) fail(endedBody(held.signal).error.type, 'stream ended');
      else if (!c.gone.aborted) fail(ErrorType.Unavailable, (err as Error).message);
    } finally {
      deps.streamMetrics.clientsAttached.dec(kind);
      held.release();
      sse.end();
    }
  }

  return router;
}

import { Router, type Request, type Response } from 'express';
import { AppError } from '../../errors/app-error';
import type { AcceptService } from '../../inference/accept-service';
import type { WorkflowGateway } from '../../inference/workflow-gateway';
import type { Logger } from '../../observability/logger';
import {
  completionChunk,
  completionResponse,
  type OpenAiKind,
  type ResponseHead,
} from '../../openai/openai-format';
import { chatCompletionBody, completionBody, toSubmit } from '../../openai/openai-schemas';
import type { RequestRecord, RequestsRepo } from '../../requests/requests-repo';
import { ErrorType } from '../../shared/error-types';
import { idempotencyKeyOf } from '../../idempotency/idempotency-key';
import type { RequestFollower } from '../../streams/request-follower';
import type { StreamMetrics } from '../../streams/stream-metrics';
import { terminalStatusOf } from '../../streams/await-end';
import { tenantOf } from '../auth';
import { endedBody, holdIn, type Held, type LiveConnections } from '../live-connections';
import { clientGone, SseWriter } from '../sse';
import { StreamText } from '../../streams/stream-text';

/** Dependencies of {@link openAiRoutes}. */
export interface OpenAiRoutesDeps {
  /** The accept path (idempotency, quota, submit, wait), shared with `POST /v1/inference`. */
  accept: AcceptService;
  requests: RequestsRepo;
  workflows: WorkflowGateway;
  follower: RequestFollower;
  streamMetrics: StreamMetrics;
  logger: Logger;
  /** Longest a non-streaming call waits for its request: the request deadline plus a margin. */
  waitMaxMs: number;
  /** Open streams and waits, ended when their key is revoked or their tenant disabled. @default none */
  live?: LiveConnections;
}

/** The error chunk of a stream ended by a revoke or a disable, in OpenAI's shape. */
function openAiEnded(signal: AbortSignal): Record<string, unknown> {
  const { error } = endedBody(signal);
  return { error: { ...error, param: null, code: error.type } };
}

/** The request's failure as the API error it maps to (status, type, message). */
function failureOf(row: RequestRecord): AppError {
  const known = Object.values(ErrorType) as string[];
  const type = (
    row.error && known.includes(row.error.type) ? row.error.type : ErrorType.Internal
  ) as ErrorType;
  return new AppError(type, `request ${row.id} ${row.status}: ${row.error?.message ?? 'no result'}`);
}

/**
 * OpenAI-compatible `POST /v1/chat/completions` and `POST /v1/completions`, plain and streaming. Each
 * call is one durable request (same id in the response, `X-Request-Id`, `GET /v1/inference/:id`,
 * the Web UI and the ledger) with every quota, retry, cancel and accounting guarantee. A client that
 * disconnects cancels its request (the output produced so far is billed), unless a non-streaming
 * call sent `X-Cancel-On-Disconnect: false`.
 */
export function openAiRoutes(deps: OpenAiRoutesDeps): Router {
  const router = Router();
  const handle =
    (kind: OpenAiKind, schema: typeof chatCompletionBody | typeof completionBody) =>
    async (req: Request, res: Response): Promise<void> => {
      const tenant = tenantOf(req);
      const key = idempotencyKeyOf(req);
      const body = schema.parse(req.body ?? {});
      const { submit, sampling } = toSubmit(body);
      // With a key, a replay attaches to the same request: its stream, or its result once it ends.
      const accepted = await deps.accept.accept({
        tenant,
        idempotencyKey: key,
        endpoint: `POST ${req.path}`,
        body,
        submit,
        sampling,
      });
      const { input } = accepted;
      if (accepted.replayed) res.setHeader('Idempotent-Replayed', 'true');
      const id = input.requestId;
      res.setHeader('X-Request-Id', id);
      const head: ResponseHead = {
        id,
        model: input.model,
        created: Math.floor(Date.parse(input.acceptedAt) / 1000),
      };
      const gone = clientGone(res);
      const endpoint = kind === 'chat' ? 'chat.completions' : 'completions';
      // With an Idempotency-Key the client has said it will retry: a disconnect cancels nothing, so the
      // retry can attach to the same request.
      const cancelOnDisconnect =
        !key && (body.stream || req.header('x-cancel-on-disconnect')?.toLowerCase() !== 'false');
      if (cancelOnDisconnect) {
        gone.addEventListener('abort', () => {
          deps.streamMetrics.disconnectCancels.inc({ endpoint });
          deps.logger.info({ requestId: id, endpoint }, 'client disconnected: cancelling its request');
          deps.workflows
            .cancel(id)
            .catch((err: unknown) => deps.logger.warn({ err, requestId: id }, 'cancel failed'));
        });
      }
      const terminalStatus = terminalStatusOf(deps.requests, id, tenant.id);

      const held = holdIn(deps.live, req, body.stream ? 'openai_stream' : 'wait');
      if (body.stream) {
        await stream(kind, head, body.stream_options?.include_usage === true, {
          gone,
          held,
          terminalStatus,
          req,
          res,
        }).finally(held.release);
        return;
      }
      const row = await deps.accept
        .wait(accepted, AbortSignal.any([gone, held.signal, AbortSignal.timeout(deps.waitMaxMs)]))
        .finally(held.release);
      if (gone.aborted) return;
      // Revoked or disabled while waiting: 401/403 (a disable cancels the request; a revoke does not).
      if (held.signal.aborted) throw held.signal.reason;
      if (!row) {
        throw new AppError(
          ErrorType.ModelTimeout,
          `request ${id} did not finish in time; it runs on: GET /v1/inference/${id}`,
        );
      }
      if (row.status !== 'completed' && !row.output) throw failureOf(row);
      res.json(completionResponse(kind, head, row));
    };

  async function stream(
    kind: OpenAiKind,
    head: ResponseHead,
    includeUsage: boolean,
    c: {
      gone: AbortSignal;
      held: Held;
      terminalStatus: () => Promise<string | undefined>;
      req: Request;
      res: Response;
    },
  ): Promise<void> {
    const sse = new SseWriter(c.res);
    const kindLabel = { kind: 'openai_stream' };
    deps.streamMetrics.clientsAttached.inc(kindLabel);
    let first = true;
    let sentText = false;
    const view = new StreamText();
    try {
      for await (const { event } of deps.follower.follow(head.id, {
        signal: AbortSignal.any([c.gone, c.held.signal]),
        terminalStatus: c.terminalStatus,
      })) {
        const step = view.apply(event);
        if (event.type === 'attempt' && step.restart && sentText) {
          // The text sent so far came from a failed attempt that could not be continued: say so
          // instead of silently repeating it. A continued attempt extends the text: nothing to say.
          sse.event({ ...completionChunk(kind, head, { text: '' }), x_attempt_restarted: event.attempt });
        } else if (event.type === 'text' && step.show !== undefined) {
          sse.event(completionChunk(kind, head, { text: step.show, role: first && kind === 'chat' }));
          first = false;
          sentText = true;
        } else if (event.type === 'final') {
          const row = await deps.requests.get(head.id, tenantOf(c.req).id);
          if (row && row.status !== 'completed' && !row.output) {
            const err = failureOf(row);
            sse.event({ error: { type: err.type, message: err.message, param: null, code: err.type } });
          } else {
            if (!sentText && row?.output)
              sse.event(completionChunk(kind, head, { text: row.output, role: kind === 'chat' }));
            sse.event(completionChunk(kind, head, { finishReason: row?.finishReason ?? 'stop' }));
            if (includeUsage) sse.event(completionChunk(kind, head, { usage: row?.usage ?? null }));
          }
          sse.event('[DONE]');
        }
      }
      if (c.held.signal.aborted && !c.gone.aborted) sse.event(openAiEnded(c.held.signal));
    } catch (err) {
      if (c.held.signal.aborted && !c.gone.aborted) sse.event(openAiEnded(c.held.signal));
      else if (!c.gone.aborted) {
        sse.event({
          error: { type: ErrorType.Unavailable, message: (err as Error).message, param: null, code: null },
        });
      }
    } finally {
      deps.streamMetrics.clientsAttached.dec(kindLabel);
      sse.end();
    }
  }

  router.post('/v1/chat/completions', handle('chat', chatCompletionBody));
  router.post('/v1/completions', handle('text', completionBody));
  return router;
}

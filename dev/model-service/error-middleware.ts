import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from '../../src/observability/logger';
import { InvalidRequestError, ServiceError } from './errors';
import { isSse, sseEvent } from './sse';
import { countAnswer, type ServiceStats } from './stats';

/** Converts anything thrown into a ServiceError; unknown errors become 500 without their message. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = err as { type?: unknown; status?: unknown; message?: unknown };
  // body-parser errors carry a `type` and a 4xx `status`.
  if (e?.type === 'entity.parse.failed')
    return new InvalidRequestError('The request body is not valid JSON.');
  if (e?.type === 'entity.too.large') return new ServiceError(413, 'The request body is too large.');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500)
    return new ServiceError(e.status, typeof e.message === 'string' ? e.message : 'Bad request.');
  return new ServiceError(500, 'Internal server error.');
}

/** KServe v2 paths answer errors the way Triton does (`{ "error": "..." }`), the rest like OpenAI. */
function isKserve(req: Request): boolean {
  return req.originalUrl.startsWith('/v2/') || req.originalUrl === '/v2';
}

/** Unknown routes: 404 through the error middleware, in the protocol's shape. */
export const notFound: RequestHandler = (req, _res, next) =>
  next(new ServiceError(404, `No route for ${req.method} ${req.path}.`, { code: 'not_found' }));

/**
 * The one place errors become HTTP: OpenAI's `{ error: { message, type, param, code } }` (Triton's
 * `{ error }` under /v2), with Retry-After when the error carries one. A stream already under way
 * gets an error event and ends.
 */
export function errorMiddleware(stats: ServiceStats, logger?: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toServiceError(err);
    if (!(err instanceof ServiceError))
      logger?.error({ err, method: req.method, path: req.path }, 'model service error');
    const body = isKserve(req)
      ? { error: e.message }
      : { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
    if (res.headersSent) {
      if (isSse(res) && !res.writableEnded) sseEvent(res, body);
      res.end();
      return;
    }
    countAnswer(stats, res, e.status);
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    res.status(e.status).json(body);
  };
}

import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import { AppError, HTTP_STATUS } from '../errors/app-error';
import { paramOf } from '../errors/param-of';
import type { Logger } from '../observability/logger';
import { ErrorType } from '../shared/error-types';

/** Converts anything thrown into an AppError; unknown errors become internal errors. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const param = issue ? paramOf(issue.path) : undefined;
    const msg = issue ? (param ? `${param}: ${issue.message}` : issue.message) : 'invalid request';
    return new AppError(ErrorType.InvalidRequest, msg, { param });
  }
  const e = err as {
    type?: string;
    status?: number;
    code?: string;
    message?: string;
    limit?: number;
    length?: number;
  };
  // body-parser errors: malformed JSON, body too large, wrong content type. `param` is `body`: the
  // whole body is at fault, no field of it could be read.
  if (e.type === 'entity.parse.failed') {
    const why = e.message ? `: ${e.message.slice(0, 200)}` : '';
    return new AppError(ErrorType.InvalidRequest, `request body is not valid JSON${why}`, { param: 'body' });
  }
  if (e.type === 'entity.too.large') {
    const size = typeof e.length === 'number' && e.length > 0 ? ` (${e.length} bytes)` : '';
    const limit = typeof e.limit === 'number' ? ` of ${e.limit} bytes` : '';
    return new AppError(ErrorType.RequestTooLarge, `request body${size} is over the limit${limit}`, {
      param: 'body',
    });
  }
  // PostgreSQL refused a character of a client's text (NUL, or one the encoding cannot hold): the
  // input is at fault, not the server. Schemas refuse these first; this covers any field they miss.
  if (e.code === '22021' || e.code === '22P05')
    return new AppError(
      ErrorType.InvalidRequest,
      'a text value contains a character that cannot be stored (NUL)',
    );
  if (e.status && e.status >= 400 && e.status < 500)
    return new AppError(ErrorType.InvalidRequest, e.message ?? 'bad request');
  if (isDependencyDown(err)) {
    return new AppError(ErrorType.Unavailable, 'a backing service is unavailable; retry later', {
      retryAfterS: 1,
      cause: err,
    });
  }
  return new AppError(ErrorType.Internal, 'internal error', { cause: err });
}

/** Redis, PostgreSQL, Temporal or network failures: the request may succeed later, so 503, not 500. */
function isDependencyDown(err: unknown): boolean {
  const e = err as { name?: string; code?: string | number; cause?: { code?: unknown } };
  return (
    e?.name === 'MaxRetriesPerRequestError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001'].includes(
      String(e?.code ?? ''),
    ) ||
    // gRPC UNAVAILABLE or DEADLINE_EXCEEDED from Temporal, bare or wrapped in the client's ServiceError.
    [14, 4].includes(Number(e?.code ?? e?.cause?.code)) ||
    /Connection is closed|Connection terminated|timeout exceeded when trying to connect|Stream isn't writeable|not queryable/i.test(
      (err as Error)?.message ?? '',
    )
  );
}

/** The one place errors become HTTP: `{ "error": { "type", "message", "param"? } }`. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toAppError(err);
    const status = HTTP_STATUS[e.type];
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    else if (e.type === ErrorType.RequestTooLarge)
      logger.warn(
        { method: req.method, path: req.path, message: e.message },
        'request body refused: too large',
      );
    if (e.retryAfterS !== undefined)
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterS))));
    for (const [k, v] of Object.entries(e.headers ?? {})) res.setHeader(k, v);
    res
      .status(status)
      .json({ error: { type: e.type, message: e.message, ...(e.param ? { param: e.param } : {}) } });
  };
}

import type { Response } from 'express';

/** Sends an error in OpenAI's shape: `{ error: { message, type, param, code } }`. */
export function sendError(
  res: Response,
  status: number,
  message: string,
  opts: { type?: string; param?: string | null; code?: string | null; retryAfterS?: number } = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (opts.retryAfterS !== undefined) res.setHeader('Retry-After', String(opts.retryAfterS));
  res.status(status).json({
    error: {
      message,
      type: opts.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: opts.param ?? null,
      code: opts.code ?? null,
    },
  });
}

import type { Response } from 'express';

/** Starts a Server-Sent Events answer: 200 and the headers go out now, the events as they come. */
export function startSse(res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
}

/** Writes one `data:` event; strings (`[DONE]`) go as they are, anything else as JSON. */
export function sseEvent(res: Response, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

/** True once {@link startSse} ran on this response. */
export function isSse(res: Response): boolean {
  return String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream');
}

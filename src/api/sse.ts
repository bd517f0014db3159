import type { Response } from 'express';

/** Server-Sent Events on an express response: headers, events, keep-alive comments. */
export class SseWriter {
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly res: Response,
    keepAliveMs = 15_000,
  ) {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    // Proxies (nginx) must not buffer a token stream.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    this.keepAlive = setInterval(() => this.comment('keep-alive'), keepAliveMs);
    this.keepAlive.unref();
  }

  /** One event; `data` is sent as JSON unless it is already a string. */
  event(data: unknown, opts: { event?: string; id?: string } = {}): void {
    let frame = '';
    if (opts.id) frame += `id: ${opts.id}\n`;
    if (opts.event) frame += `event: ${opts.event}\n`;
    frame += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    this.res.write(frame);
  }

  comment(text: string): void {
    this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    clearInterval(this.keepAlive);
    this.res.end();
  }
}

/** An AbortSignal that fires when the client goes away before the response ended. */
export function clientGone(res: Response): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

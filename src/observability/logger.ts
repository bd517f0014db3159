import pino, { type Logger } from 'pino';

export type { Logger };

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Component name put on every line (`api`, `orchestration-worker`, ...). */
  component: string;
  /** pino level. @default info */
  level?: string;
}

/** One JSON line per event on stdout, so any log shipper can parse it. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino({ level: opts.level ?? 'info', base: { component: opts.component } });
}

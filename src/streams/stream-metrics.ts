import { perRegistry } from '../observability/per-registry';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Metrics of the token relay and of streaming / waiting clients. */
export interface StreamMetrics {
  /** Relay writes that failed (the live stream of that attempt is incomplete; PostgreSQL is not). */
  relayErrors: Counter;
  /** Writes to the relay by GPU workers (one XADD pipeline each; text batched per STREAM_WRITE_INTERVAL_MS). */
  relayWrites: Counter;
  /** Clients currently attached to a request's stream or waiting for its end, by kind. */
  clientsAttached: Gauge<'kind'>;
  /** Requests cancelled because their client disconnected, by endpoint. */
  disconnectCancels: Counter<'endpoint'>;
  /** Waits that saw their request end, by what told them: `signal` (Redis) or `postgres` (idle check). */
  waitEnds: Counter<'by'>;
  /** PostgreSQL checks of followers whose request's stream stayed idle (backing off to 8 s). */
  idleChecks: Counter;
}

/** The stream metrics on `registry`, created on first use (one set per registry). */
export const streamMetrics: (registry: Registry) => StreamMetrics = perRegistry((r) => ({
  relayErrors: new Counter({
    name: 'inference_token_relay_errors_total',
    help: 'Failed writes of generated text to the Redis token relay (live streams incomplete)',
    ...r,
  }),
  relayWrites: new Counter({
    name: 'inference_token_relay_writes_total',
    help: 'Writes to the Redis token relay by GPU workers (one XADD pipeline each; text is batched per STREAM_WRITE_INTERVAL_MS, so far fewer than tokens on a fast model)',
    ...r,
  }),
  clientsAttached: new Gauge({
    name: 'inference_stream_clients',
    help: 'Clients attached to a request: sse (native stream), openai_stream, wait (sync wait)',
    labelNames: ['kind'],
    ...r,
  }),
  disconnectCancels: new Counter({
    name: 'inference_disconnect_cancels_total',
    help: 'Requests cancelled because their client disconnected before the end',
    labelNames: ['endpoint'],
    ...r,
  }),
  waitEnds: new Counter({
    name: 'inference_wait_ends_total',
    help: 'Sync waits that saw their request end, by what told them: signal (the Redis end signal) or postgres (the idle check: a lost signal, or a worker that writes none)',
    labelNames: ['by'],
    ...r,
  }),
  idleChecks: new Counter({
    name: 'inference_wait_idle_checks_total',
    help: 'PostgreSQL reads of streaming and waiting clients whose request stayed silent (after 1 s, then doubling up to 8 s per client)',
    ...r,
  }),
}));

import { Counter, type Registry } from 'prom-client';
import { perRegistry } from '../../observability/per-registry';

/** Metrics of the Responses API (`/v1/responses`). */
export interface ResponseMetrics {
  /** Responses created, by mode (`foreground`, `background`) and whether the call streamed. */
  created: Counter<'mode' | 'stream'>;
  /**
   * Calls on existing responses, by operation (`retrieve`, `resume`, `cancel`, `delete`,
   * `input_items`) and outcome (`ok`, `not_found`, `refused`).
   */
  operations: Counter<'operation' | 'outcome'>;
  /** Stream events sent to clients (`response.*` SSE), by whether the stream was a resume. */
  streamEvents: Counter<'resumed'>;
}

/** The Responses metrics on `registry`, created on first use (one set per registry). */
export const responseMetrics: (registry: Registry) => ResponseMetrics = perRegistry((r) => ({
  created: new Counter({
    name: 'inference_responses_created_total',
    help: 'Responses API responses created (POST /v1/responses), by mode (foreground, background) and stream (true, false)',
    labelNames: ['mode', 'stream'],
    ...r,
  }),
  operations: new Counter({
    name: 'inference_responses_operations_total',
    help: 'Calls on existing responses: retrieve, resume (GET ?stream=true), cancel, delete, input_items; by outcome ok, not_found, refused',
    labelNames: ['operation', 'outcome'],
    ...r,
  }),
  streamEvents: new Counter({
    name: 'inference_responses_stream_events_total',
    help: 'Responses stream events sent to clients, by resumed (true: a GET ?stream=true, false: the create call)',
    labelNames: ['resumed'],
    ...r,
  }),
}));

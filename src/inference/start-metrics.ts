import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { perRegistry } from '../observability/per-registry';

/** Who started a request's workflow after its acknowledgement. */
export type StartBy = 'accept' | 'recovery' | 'cancel';

/** Metrics of the workflow starts that follow an acknowledged request (see DeferredStarts). */
export interface StartMetrics {
  /** Start attempts by who made them and their outcome (`started` includes "already started"). */
  starts: Counter<'by' | 'outcome'>;
  /** Seconds from acceptance until the workflow was started, by who started it. */
  delay: Histogram<'by'>;
  /** Open requests the last recovery sweep found still without a started workflow. */
  overdue: Gauge;
  /**
   * Starts that asked for eager start (API_EAGER_START), by outcome: `eager` (the server handed the
   * first workflow task to this API's worker) or `fallback` (it went to the task queue).
   */
  eager: Counter<'outcome'>;
}

export const startMetrics: (registry: Registry) => StartMetrics = perRegistry((r) => ({
  starts: new Counter({
    name: 'inference_workflow_starts_total',
    help: 'Workflow starts after acknowledgement, by who started it (accept, recovery, cancel) and outcome (started, failed)',
    labelNames: ['by', 'outcome'],
    ...r,
  }),
  delay: new Histogram({
    name: 'inference_workflow_start_delay_seconds',
    help: 'Seconds from acceptance until the workflow was started, by who started it',
    labelNames: ['by'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    ...r,
  }),
  overdue: new Gauge({
    name: 'inference_workflow_starts_overdue',
    help: 'Open requests acknowledged over WORKFLOW_START_RECOVERY_S ago whose workflow had not started, at the last recovery sweep',
    ...r,
  }),
  eager: new Counter({
    name: 'inference_workflow_eager_starts_total',
    help: "Workflow starts that asked for eager start, by outcome: eager (first task ran in this API's worker) or fallback (went to the task queue)",
    labelNames: ['outcome'],
    ...r,
  }),
}));

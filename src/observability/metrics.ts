import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric the system exports, created once per process on its own registry. */
export function createMetrics(component: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry });
  const r = { registers: [registry] };
  return {
    registry,
    httpRequests: new Counter({
      name: 'inference_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      ...r,
    }),
    httpDuration: new Histogram({
      name: 'inference_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ...r,
    }),
    requestsAccepted: new Counter({
      name: 'inference_requests_accepted_total',
      help: 'Requests accepted (202)',
      labelNames: ['tenant', 'model'],
      ...r,
    }),
    requestsRefused: new Counter({
      name: 'inference_requests_refused_total',
      help: 'Requests refused by quota',
      labelNames: ['tenant', 'limit'],
      ...r,
    }),
    requestsFinished: new Counter({
      name: 'inference_requests_finished_total',
      help: 'Requests reaching a terminal status',
      labelNames: ['tenant', 'model', 'status'],
      ...r,
    }),
    tokensCharged: new Counter({
      name: 'inference_tokens_charged_total',
      help: 'Tokens committed to the ledger',
      labelNames: ['tenant', 'model', 'kind'],
      ...r,
    }),
    modelCalls: new Counter({
      name: 'inference_model_calls_total',
      help: 'Model service call attempts by outcome',
      labelNames: ['model', 'outcome'],
      ...r,
    }),
    modelCallDuration: new Histogram({
      name: 'inference_model_call_duration_seconds',
      help: 'Duration of one model-service call attempt',
      labelNames: ['model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      ...r,
    }),
    modelCallsInFlight: new Gauge({
      name: 'inference_model_calls_in_flight',
      help: 'Model calls running on this worker',
      labelNames: ['model'],
      ...r,
    }),
    quotaReclaimed: new Counter({
      name: 'inference_quota_reservations_reclaimed_total',
      help: 'Abandoned reservations reclaimed by the sweeper',
      labelNames: ['tenant'],
      ...r,
    }),
    quotaRebuilds: new Counter({
      name: 'inference_quota_rebuilds_total',
      help: 'Tenants whose Redis counters were rebuilt from the ledger',
      labelNames: ['tenant'],
      ...r,
    }),
    quotaDrift: new Gauge({
      name: 'inference_quota_drift',
      help: 'Ledger minus Redis usage found by the last audit',
      labelNames: ['tenant', 'window', 'unit'],
      ...r,
    }),
    timeToFirstToken: new Histogram({
      name: 'inference_time_to_first_token_seconds',
      help: 'From acceptance by the API to the first generated text of the attempt that produced it',
      labelNames: ['model'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      ...r,
    }),
    requestDuration: new Histogram({
      name: 'inference_request_duration_seconds',
      help: 'From acceptance by the API to the terminal status (end to end), by final status',
      labelNames: ['model', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      ...r,
    }),
    estimateRatio: new Histogram({
      name: 'inference_quota_estimate_ratio',
      help: 'Actual tokens / tokens reserved at accept (prompt + first reservation slice) of completed requests; above 1 when slices were added as the answer streamed',
      labelNames: ['model'],
      buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 1.1, 2, 4, 8, 16],
      ...r,
    }),
    taskQueueBacklog: new Gauge({
      name: 'inference_task_queue_backlog',
      help: 'Tasks waiting on a Temporal task queue (DescribeTaskQueue, as KEDA reads it)',
      labelNames: ['task_queue', 'type'],
      ...r,
    }),
    taskQueueBacklogAge: new Gauge({
      name: 'inference_task_queue_backlog_age_seconds',
      help: 'Age of the oldest task waiting on a Temporal task queue',
      labelNames: ['task_queue', 'type'],
      ...r,
    }),
    taskQueuePollers: new Gauge({
      name: 'inference_task_queue_pollers',
      help: 'Workers that polled a Temporal task queue recently',
      labelNames: ['task_queue', 'type'],
      ...r,
    }),
    dependencyUp: new Gauge({
      name: 'dependency_up',
      help: '1 while this process reaches the dependency (postgres, redis, temporal), 0 while it does not',
      labelNames: ['dependency'],
      ...r,
    }),
  };
}

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  requestsAccepted: Counter<'tenant' | 'model'>;
  requestsRefused: Counter<'tenant' | 'limit'>;
  requestsFinished: Counter<'tenant' | 'model' | 'status'>;
  tokensCharged: Counter<'tenant' | 'model' | 'kind'>;
  modelCalls: Counter<'model' | 'outcome'>;
  modelCallDuration: Histogram<'model'>;
  modelCallsInFlight: Gauge<'model'>;
  quotaReclaimed: Counter<'tenant'>;
  quotaRebuilds: Counter<'tenant'>;
  quotaDrift: Gauge<'tenant' | 'window' | 'unit'>;
  timeToFirstToken: Histogram<'model'>;
  requestDuration: Histogram<'model' | 'status'>;
  estimateRatio: Histogram<'model'>;
  taskQueueBacklog: Gauge<'task_queue' | 'type'>;
  taskQueueBacklogAge: Gauge<'task_queue' | 'type'>;
  taskQueuePollers: Gauge<'task_queue' | 'type'>;
  dependencyUp: Gauge<'dependency'>;
}

import express, { type Express } from 'express';
import { AppError } from '../errors/app-error';
import { AcceptService } from '../inference/accept-service';
import type { SubmitService } from '../inference/submit-service';
import type { WorkflowGateway } from '../inference/workflow-gateway';
import type { ModelRegistry } from '../models/model-registry';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { QuotaStore } from '../quota/quota-store';
import type { AcceptedIds } from '../requests/accepted-ids';
import type { QueueInsight } from '../inference/queue-insight';
import type { IdempotentSubmit } from '../inference/idempotent-submit';
import type { RequestWebhooks } from '../webhooks/request-webhooks';
import { webhookAdminRoutes } from './routes/webhook-admin-routes';
import type { RequestsRepo } from '../requests/requests-repo';
import type { RequestFollower } from '../streams/request-follower';
import type { StreamMetrics } from '../streams/stream-metrics';
import { ErrorType } from '../shared/error-types';
import type { TenantsRepo } from '../tenants/tenants-repo';
import { adminAuth, tenantAuth, type KeyAuthenticator } from './auth';
import { errorMiddleware } from './error-middleware';
import { healthRoutes, type ReadinessCheck } from './routes/health-routes';
import { inferenceRoutes } from './routes/inference-routes';
import { modelsRoutes } from './routes/models-routes';
import { openAiRoutes } from './routes/openai-routes';
import { streamRoutes } from './routes/stream-routes';
import { adminRoutes, quotaRoutes } from './routes/quota-routes';
import type { LiveConnections } from './live-connections';
import { adminApiRoutes, type AdminApiDeps } from './routes/admin-api-routes';
import { listRoutes } from './routes/list-routes';
import { usageRoutes } from './routes/usage-routes';
import { openApiRoutes } from './routes/openapi-routes';
import { apiDocument } from './openapi/api-document';
import { batchRoutes, type BatchRoutesDeps } from './routes/batch-routes';
import { fileRoutes } from './routes/file-routes';
import { responsesRoutes } from './routes/responses-routes';
import type { ResponsesRepo } from '../openai/responses/responses-repo';
import { responseMetrics } from '../openai/responses/response-metrics';

/** Everything the API needs; built by src/api/main.ts or by tests. */
export interface AppDeps {
  submit: SubmitService;
  requests: RequestsRepo;
  tenants: TenantsRepo;
  quota: QuotaStore;
  registry: ModelRegistry;
  workflows: WorkflowGateway;
  /** Ids accepted without their row yet: status reads ask Temporal about those only. */
  accepted: AcceptedIds;
  metrics: Metrics;
  logger: Logger;
  checks: ReadinessCheck[];
  adminToken: string;
  /** Follows a request's token stream (SSE, OpenAI streaming, waits). */
  follower: RequestFollower;
  streamMetrics: StreamMetrics;
  /** Longest a non-streaming OpenAI-style call waits for its request, ms. */
  waitMaxMs: number;
  /** Position, ETA and diagnosis on the status of waiting requests. @default none */
  queueInsight?: QueueInsight;
  /** Tenant authentication: key caches, the failed-authentication limit, the look-up cap. */
  auth: KeyAuthenticator;
  /** Open streams and waits, ended by a revoke or a disable. @default none */
  live?: LiveConnections;
  /**
   * Express `trust proxy`: which proxies' X-Forwarded-For names the client whose failed
   * authentications are limited (API_TRUST_PROXY). @default false (the peer address)
   */
  trustProxy?: boolean | number | string[];
  /** Admin API (tenants, keys, usage, action log) and GET /v1/usage. @default not mounted */
  admin?: AdminApiDeps;
  /** POST /v1/batches and the other batch routes. @default not mounted */
  batches?: BatchRoutesDeps;
  /** Largest JSON body accepted on any route, in bytes; a larger one is a 413 (API_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Idempotency-Key on the POSTs that create requests; without it the header is ignored. @default none */
  idempotent?: IdempotentSubmit;
  /** `webhook_url` on submit, deliveries on GET, and the webhook admin routes. @default none */
  webhooks?: RequestWebhooks;
  /** The Responses API (`/v1/responses`) keeps each response's row here. @default not mounted */
  responses?: ResponsesRepo;
}

/** Builds the express app without listening, so tests drive it in-process. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', deps.trustProxy ?? false);

  app.use((req, res, next) => {
    const stop = deps.metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      stop({ method: req.method, route });
      deps.metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });
  app.use(healthRoutes({ checks: deps.checks }));
  app.use(openApiRoutes({ document: () => apiDocument() }));
  // Authenticate before reading a body, so an unknown client cannot make the API buffer and parse
  // up to maxBodyBytes; a body over the limit is a 413 (request_too_large) on every route after this.
  app.use('/admin', adminAuth(deps.adminToken));
  app.use('/v1', tenantAuth(deps.auth));
  // Before the app-wide parser: POST /v1/batches reads its own, larger body (JSON or JSONL).
  if (deps.batches) app.use(batchRoutes(deps.batches));
  // Also before it: POST /v1/files reads its own multipart body.
  if (deps.batches?.files) app.use(fileRoutes(deps.batches.files));
  app.use(express.json({ limit: deps.maxBodyBytes }));
  if (deps.admin) app.use(adminApiRoutes(deps.admin));
  if (deps.webhooks) {
    app.use(webhookAdminRoutes({ webhooks: deps.webhooks, tenants: deps.tenants, logger: deps.logger }));
  }
  app.use(adminRoutes({ quota: deps.quota, tenants: deps.tenants }));
  app.use(listRoutes(deps));
  if (deps.admin) app.use(usageRoutes(deps.admin));
  // One accept path for the native and the OpenAI-compatible routes.
  const accept = new AcceptService(deps);
  app.use(inferenceRoutes({ ...deps, accept }));
  app.use(streamRoutes(deps));
  app.use(openAiRoutes({ ...deps, accept }));
  if (deps.responses) {
    app.use(
      responsesRoutes({
        ...deps,
        accept,
        responses: deps.responses,
        responseMetrics: responseMetrics(deps.metrics.registry),
      }),
    );
  }
  app.use(quotaRoutes(deps));
  app.use(modelsRoutes(deps));
  app.use((req, _res, next) => next(new AppError(ErrorType.NotFound, `no route ${req.method} ${req.path}`)));
  app.use(errorMiddleware(deps.logger));
  return app;
}

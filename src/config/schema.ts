import { z } from 'zod';
import { ORCHESTRATION_TASK_QUEUE } from '../contract/temporal-contract';
import { parsePayloadKeys } from '../codec/payload-keys';
import { parseTrustProxy } from './trust-proxy';
import { DEVELOPMENT_SECRETS, adminTokenProblem, codecTokenProblem } from './secret-rules';
import { bool, logLevel, nonNegative, port, positiveInt } from './fields';

/**
 * Seconds the workflow run timeout exceeds REQUEST_DEADLINE_S: the workflow ends a request at its
 * deadline itself; the run timeout only catches a workflow that cannot (its stores down for long).
 */
export const REQUEST_RUN_TIMEOUT_MARGIN_S = 600;

/** `host:port` of one Redis Cluster node, or undefined when malformed. */
function clusterNode(entry: string): { host: string; port: number } | undefined {
  const m = /^([^\s:,]+):(\d{1,5})$/.exec(entry.trim());
  const port = Number(m?.[2]);
  return m && port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/**
 * The whole environment, as one schema. Every field documents its default; `loadConfig` is the only
 * reader of `process.env`.
 */
export const envSchema = z
  .object({
    /**
     * `production` (the default, secure by default): ADMIN_TOKEN must be a real secret and DEV_API_KEY
     * must be unset, so no demo tenant exists. `development` (`npm start`, the tests): the development
     * defaults of ADMIN_TOKEN and DEV_API_KEY apply and tenant `demo` is seeded.
     * @default production
     */
    APP_ENV: z.enum(['development', 'production']).default('production'),
    /** Log level for every process. @default info */
    LOG_LEVEL: logLevel.default('info'),
    /** PostgreSQL connection string. @default postgres://postgres@127.0.0.1:5432/inference */
    DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/inference'),
    /** Max PostgreSQL connections per process. @default 10 */
    DATABASE_POOL_SIZE: positiveInt.default(10),
    /** Redis connection string. @default redis://127.0.0.1:6379 */
    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key, so several deployments (or tests) can share one Redis. @default iq */
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[a-zA-Z0-9_:-]+$/)
      .default('iq'),
    /**
     * Redis Cluster seed nodes, comma-separated `host:port` (`redis-0:6379,redis-1:6379`). Set: Redis
     * is reached as a cluster from these nodes (user, password and TLS still come from REDIS_URL);
     * unset: the single server at REDIS_URL. @default unset
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .refine((s) => s.split(',').every((n) => clusterNode(n) !== undefined), {
        message: 'must be comma-separated host:port pairs, e.g. redis-0:6379,redis-1:6379',
      })
      .transform((s) => s.split(',').map((n) => clusterNode(n)!))
      .optional(),
    /**
     * Seconds a request's token stream (Redis Stream) is kept after its last write: a client can
     * attach or resume within this; later it gets the stored output. @default 3600
     */
    STREAM_RETENTION_S: z.coerce.number().int().min(10).max(604_800).default(3600),
    /**
     * Least milliseconds between two writes of a model attempt's text to its token stream: tokens
     * that arrive meanwhile go out together (one XADD per interval, not one per token); the first
     * token and the attempt's end are written at once. 0: a write as soon as the previous one is
     * done. @default 20
     */
    STREAM_WRITE_INTERVAL_MS: z.coerce.number().int().min(0).max(1000).default(20),
    /** Temporal frontend host:port. When unset, `npm start` runs a dev server on 127.0.0.1:7233. */
    TEMPORAL_ADDRESS: z.string().min(1).optional(),
    /** Temporal namespace. @default default */
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    /** Task queue of the orchestration worker. @default inference-orchestration */
    ORCHESTRATION_TASK_QUEUE: z.string().min(1).default(ORCHESTRATION_TASK_QUEUE),
    /**
     * Workflow code pre-bundled by `scripts/bundle-workflows.ts` (the image and `npm start` build it):
     * the orchestration worker then never loads webpack. Unset: bundled once at worker start.
     */
    WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
    /**
     * API listen host (its public port and API_METRICS_PORT). All interfaces, as a container needs;
     * `npm start` sets it to STACK_BIND_HOST. @default 0.0.0.0
     */
    API_HOST: z.string().default('0.0.0.0'),
    /** API listen port. @default 8080 */
    API_PORT: port.default(8080),
    /**
     * Eager workflow start: the API also runs a Temporal worker for ORCHESTRATION_TASK_QUEUE
     * (workflows and their local activities only) on the connection its starts go out on, and starts
     * inference workflows with `requestEagerStart`, so a request's first workflow task runs in the
     * API that accepted it, without a dispatch round trip; a start the server does not hand out
     * eagerly goes the usual way (the orchestration workers). `false`: no worker in the API, plain
     * starts. @default true
     */
    API_EAGER_START: bool.default(true),
    /**
     * Workflow task slots of the API's worker (API_EAGER_START). Its two pollers hold 4 of them while
     * they wait (measured: Core reserves a slot before each poll, sticky and normal), so the rest
     * take eager starts at once; a start that finds none free falls back to the task queue. Bounds
     * the CPU the API's event loop gives to workflow code. @default 10
     */
    API_WORKER_MAX_TASKS: z.coerce.number().int().min(6).max(100).default(10),
    /**
     * Workflows the API's worker keeps cached (API_EAGER_START): their later tasks come to the API on
     * its sticky queue; past it they are replayed where they land. Bounds the API's memory. @default 100
     */
    API_WORKER_MAX_CACHED: z.coerce.number().int().min(2).max(10_000).default(100),
    /**
     * Port of the API's /metrics (with /healthz and /readyz), apart from API_PORT so metrics are never
     * served to the public; expose it only to Prometheus. @default 9463
     */
    API_METRICS_PORT: port.default(9463),
    /**
     * Listen host of the workers' /metrics (ORCHESTRATION_METRICS_PORT, GPU_METRICS_PORT) and of the
     * Temporal SDK's metrics (the *_SDK_METRICS_PORTs): all interfaces, so Prometheus reaches a pod;
     * `npm start` sets it to STACK_BIND_HOST. @default 0.0.0.0
     */
    METRICS_HOST: z.string().min(1).default('0.0.0.0'),
    /** Port of the orchestration worker's /metrics. @default 9464 */
    ORCHESTRATION_METRICS_PORT: port.default(9464),
    /** Port of the GPU worker's /metrics. @default 9465 */
    GPU_METRICS_PORT: port.default(9465),
    /**
     * Port of the Temporal SDK's own metrics (schedule-to-start latency, workflow task failures,
     * pollers) of the orchestration worker, on /metrics. Unset: not exported. npm start uses 9466.
     */
    ORCHESTRATION_SDK_METRICS_PORT: port.optional(),
    /** Same for the GPU worker. Unset: not exported. npm start uses 9467. */
    GPU_SDK_METRICS_PORT: port.optional(),
    /** Path of the model registry (YAML or JSON). Unset: the built-in registry for the reference service. */
    MODEL_REGISTRY: z.string().min(1).optional(),
    /** Base URL of the reference model service, used by the built-in registry. @default http://127.0.0.1:8090 */
    REFERENCE_MODEL_URL: z.url().default('http://127.0.0.1:8090'),
    /** GPU task queues this GPU worker serves (comma-separated). Unset: every queue in the registry. */
    GPU_TASK_QUEUES: z.string().optional(),
    /**
     * API key of tenant `demo`, seeded in development only; must be unset in production.
     * @default dev-demo-key in development, unset in production
     */
    DEV_API_KEY: z.string().min(8).optional(),
    /**
     * Bearer token for /admin endpoints. In production: required, at least 32 characters, not a
     * development default or a `change-me` placeholder.
     * @default dev-admin-token (accepted in development only)
     */
    ADMIN_TOKEN: z.string().min(8).default(DEVELOPMENT_SECRETS.ADMIN_TOKEN),
    /** Seconds after which a reservation whose workflow vanished is reclaimed. @default 7200 */
    QUOTA_RESERVATION_TTL_S: positiveInt.default(7200),
    /**
     * Seconds from acceptance by which a request must be finished: the model call (every attempt and
     * retry) is bounded by it, and the workflow run times out shortly after as a backstop.
     * @default 3600
     */
    REQUEST_DEADLINE_S: positiveInt.default(3600),
    /** Seconds between sweeps for stale reservations. @default 30 */
    QUOTA_SWEEP_INTERVAL_S: positiveInt.default(30),
    /** Seconds between ledger-vs-Redis audits (with correction) in the orchestration worker. @default 300 */
    QUOTA_AUDIT_INTERVAL_S: positiveInt.default(300),
    /**
     * Seconds a settled reservation record is kept (about 200 bytes in Redis each): a repeated commit
     * or release is a no-op while it lives, and a second reservation of its request id is refused.
     * At least IDEMPOTENCY_TTL_S, so an idempotent retry re-driven while its key lives finds it.
     * @default 86400 (one day; it was 7 days, 121 GB at 1,000 requests/s: docs/quota.md)
     */
    QUOTA_RECORD_RETENTION_S: positiveInt.default(86_400),
    /**
     * Seconds an API key lookup stays cached in an API process, at most 300. Revokes and disabled
     * tenants reach every replica at once over Redis pub/sub; this bounds staleness should a
     * message be lost. 0: no cache. @default 30
     */
    API_KEY_CACHE_TTL_S: nonNegative.max(300).default(30),
    /** Valid API keys an API replica caches at most (least recently used leave first). @default 10000 */
    API_KEY_CACHE_MAX_KEYS: positiveInt.default(10_000),
    /**
     * Wrong keys (misses) an API replica caches at most, apart from the valid ones, so a flood of
     * wrong keys never evicts a valid one. @default 10000
     */
    API_KEY_CACHE_MAX_MISSES: positiveInt.default(10_000),
    /**
     * Failed authentications a client address may make at once; past them (and until it regains one
     * at AUTH_FAILURE_RATE_PER_S) any key not already cached as valid is answered 429 with Retry-After,
     * without a PostgreSQL query. @default 20
     */
    AUTH_FAILURE_BURST: positiveInt.default(20),
    /** Failed authentications per second a client address regains, up to AUTH_FAILURE_BURST. @default 1 */
    AUTH_FAILURE_RATE_PER_S: z.coerce.number().positive().default(1),
    /** Client addresses the failure limit tracks at most (about 100 bytes each). @default 100000 */
    AUTH_FAILURE_MAX_SOURCES: positiveInt.default(100_000),
    /**
     * API key look-ups in PostgreSQL at once per API replica, over every client, so wrong keys from
     * many addresses cannot take the pool. @default 8
     */
    AUTH_LOOKUP_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
    /** Look-ups waiting for one of those at most; past it a key not cached is answered 503. @default 1000 */
    AUTH_LOOKUP_QUEUE: z.coerce.number().int().min(0).default(1000),
    /**
     * Which proxies the API trusts to name the client in X-Forwarded-For (express `trust proxy`), for
     * the failed-authentication limit: `false` (the peer address), `true` (any: only behind a proxy
     * that overwrites the header), a hop count, or comma-separated proxy addresses/CIDRs or
     * loopback/linklocal/uniquelocal. @default false
     */
    API_TRUST_PROXY: z
      .string()
      .default('false')
      .superRefine((s, ctx) => {
        const r = parseTrustProxy(s);
        if (typeof r === 'object' && 'problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
      })
      .transform((s) => parseTrustProxy(s) as boolean | number | string[]),
    /**
     * Seconds between the API's sweeps that cancel the open requests and batches of disabled tenants
     * (the disable does it at once; the sweep finishes what a crash or a concurrent accept left).
     * @default 30
     */
    TENANT_DISABLE_SWEEP_S: positiveInt.default(30),
    /** Max request body in bytes. @default 1048576 */
    API_MAX_BODY_BYTES: positiveInt.default(1048576),
    /** Max body of POST /v1/batches in bytes (JSON array or JSONL); larger is a 413. @default 67108864 (64 MiB) */
    BATCH_MAX_BODY_BYTES: positiveInt.default(67_108_864),
    /**
     * Max bytes of one batch item (a JSONL line, or a JSON array element with the blank space before
     * it); checked as the body streams in, so no more than this is held per item. @default 2097152 (2 MiB)
     */
    BATCH_MAX_ITEM_BYTES: positiveInt.default(2_097_152),
    /** Batch bodies one API process reads at once, all tenants; past it a 503 with Retry-After. @default 4 */
    BATCH_MAX_CONCURRENT_UPLOADS: positiveInt.default(4),
    /**
     * Longest time to read one batch body, seconds: an upload holds a slot of
     * BATCH_MAX_CONCURRENT_UPLOADS and an open transaction while it is read; past it a 408. @default 120
     */
    BATCH_UPLOAD_TIMEOUT_S: positiveInt.default(120),
    /** Longest pause between two pieces of a batch body, seconds; past it a 408. @default 15 */
    BATCH_UPLOAD_IDLE_TIMEOUT_S: positiveInt.default(15),
    /** Batch bodies one API process reads at once for one tenant; past it a 429 with Retry-After. @default 1 */
    BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT: positiveInt.default(1),
    /** Batches of one tenant not yet ended (validating, in progress, cancelling); past it a 429. @default 100 */
    BATCH_TENANT_MAX_IN_FLIGHT: positiveInt.default(100),
    /** Items of one tenant's batches not yet ended; past it a 429. @default 100000 */
    BATCH_TENANT_MAX_ITEMS_IN_FLIGHT: positiveInt.default(100_000),
    /**
     * Enqueued tokens of one tenant's batches not yet ended (each item's prompt + first reservation
     * slice, as it will reserve at its start), like OpenAI's batch queue limit; past it a 429. @default 100000000
     */
    BATCH_TENANT_MAX_ENQUEUED_TOKENS: positiveInt.max(Number.MAX_SAFE_INTEGER).default(100_000_000),
    /** Items of one batch running at once (child workflows in flight). @default 32 */
    BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
    /** Items one batch workflow run starts before it continues as new (bounds its history). @default 1000 */
    BATCH_ITEMS_PER_RUN: z.coerce.number().int().min(10).max(5000).default(1000),
    /**
     * Largest file of POST /v1/files, bytes; refused (413) as it arrives, never held whole.
     * @default 104857600 (100 MiB)
     */
    FILE_MAX_BYTES: positiveInt.default(104_857_600),
    /**
     * What a batch's completion window lasts, seconds. The API accepts only `completion_window:
     * "24h"` (OpenAI's); this is how long "24h" is here: shorten it only to test expiry. @default 86400
     */
    BATCH_COMPLETION_WINDOW_S: positiveInt.default(86_400),
    /** Seconds between the API's sweeps that stop batches past their completion window. @default 30 */
    BATCH_EXPIRY_SWEEP_S: positiveInt.default(30),
    /** Seconds the GPU worker waits for in-flight calls on SIGTERM. @default 30 */
    GPU_DRAIN_GRACE_S: positiveInt.default(30),
    /**
     * Seconds an Idempotency-Key is remembered (its request id and response); at least a day, per the
     * IETF idempotency-key draft. @default 86400
     */
    IDEMPOTENCY_TTL_S: z.coerce.number().int().min(86_400).default(86_400),
    /**
     * Seconds after which a key whose first submit never finished (the API died, or its response was
     * lost before it was recorded) is re-driven by a retry; earlier, a retry gets 409. @default 5
     */
    IDEMPOTENCY_PENDING_STALE_S: z.coerce.number().min(0.1).max(300).default(5),
    /**
     * Seconds after acceptance from which the API's recovery sweep starts the workflow of a request
     * whose start did not happen (Temporal was down, or the API stopped right after accepting); the
     * sweep runs every half of it. @default 5
     */
    WORKFLOW_START_RECOVERY_S: z.coerce.number().min(1).max(3600).default(5),
    /**
     * Longest wait, ms, of a workflow start behind the API's accepts still in progress: the accepts
     * of a burst are answered before the starts of those answered first take the event loop. 0: each
     * workflow starts as soon as its request is accepted. @default 50
     */
    WORKFLOW_START_MAX_DEFER_MS: z.coerce.number().int().min(0).max(1000).default(50),
    /**
     * Deliver webhooks to private, loopback, link-local and cloud metadata addresses too. For
     * development and tests only: it lets a tenant make the workers call internal services. @default false
     */
    WEBHOOK_ALLOW_PRIVATE: bool.default(false),
    /**
     * CIDRs (comma-separated, e.g. `10.20.0.0/16,fd00::/8`) webhooks may reach even though they are
     * private; narrower than WEBHOOK_ALLOW_PRIVATE. @default none
     */
    WEBHOOK_ALLOWED_CIDRS: z
      .string()
      .refine((s) => s.split(',').every((c) => !c.trim() || /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(c.trim())), {
        message: 'must be comma-separated CIDRs, e.g. 10.20.0.0/16,fd00::/8',
      })
      .transform((s) =>
        s
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      )
      .default([]),
    /** Milliseconds before a webhook delivery's first retry; doubles per attempt. @default 5000 */
    WEBHOOK_RETRY_INITIAL_MS: positiveInt.default(5000),
    /** Longest wait between two delivery attempts, milliseconds. @default 600000 (10 min) */
    WEBHOOK_RETRY_MAX_INTERVAL_MS: positiveInt.default(600_000),
    /** Seconds a webhook delivery is retried before it is given up, at least an hour. @default 86400 */
    WEBHOOK_RETRY_WINDOW_S: z.coerce.number().int().min(3600).default(86_400),
    /** Milliseconds one delivery attempt may take (connect to last byte). @default 10000 */
    WEBHOOK_TIMEOUT_MS: positiveInt.default(10_000),

    /**
     * Encryption of prompts and outputs in Temporal history and at rest in PostgreSQL and Redis
     * (idempotency keys, batch items, request outputs and errors, webhook events, token streams;
     * docs/operations.md), with the same keys. `on`: payloads are
     * encrypted with PAYLOAD_ACTIVE_KEY_ID (PAYLOAD_KEYS required). `off`: written in clear; keys in
     * PAYLOAD_KEYS still decrypt older payloads. Unset: `on` when PAYLOAD_KEYS is set; outside
     * development the API, the workers and the codec server refuse to start without keys unless this
     * is `off`. @default on with keys; required outside development
     */
    PAYLOAD_ENCRYPTION: z.enum(['on', 'off']).optional(),
    /**
     * Payload encryption keys, comma-separated `<key id>:<base64 of 32 bytes>`
     * (`k1:$(openssl rand -base64 32)`). Every key decrypts; only PAYLOAD_ACTIVE_KEY_ID encrypts. To
     * rotate: add the new key everywhere, then switch PAYLOAD_ACTIVE_KEY_ID, and remove the old key
     * only once no history that needs it is kept. @default unset
     */
    PAYLOAD_KEYS: z
      .string()
      .superRefine((s, ctx) => {
        for (const message of parsePayloadKeys(s).problems) ctx.addIssue({ code: 'custom', message });
      })
      .transform((s) => parsePayloadKeys(s).keys)
      .optional(),
    /** Id (in PAYLOAD_KEYS) of the key that encrypts new payloads. @default the only key, when there is one */
    PAYLOAD_ACTIVE_KEY_ID: z.string().min(1).optional(),
    /**
     * Codec server (Temporal Web UI and CLI decoding) listen host; `npm start` sets it to
     * STACK_BIND_HOST. @default 0.0.0.0
     */
    CODEC_SERVER_HOST: z.string().default('0.0.0.0'),
    /** Codec server port. @default 8234 */
    CODEC_SERVER_PORT: port.default(8234),
    /**
     * Bearer token the codec server requires (`temporal ... --codec-auth "Bearer <token>"`). Outside
     * development: required by the codec server, at least 32 characters, no placeholder.
     * @default dev-codec-token (accepted in development only)
     */
    CODEC_SERVER_TOKEN: z.string().min(8).optional(),
    /**
     * Browser origins (comma-separated) allowed to call the codec server: the Temporal Web UI's.
     * @default http://127.0.0.1:8233,http://localhost:8233
     */
    CODEC_CORS_ORIGINS: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim().replace(/\/+$/, ''))
          .filter(Boolean),
      )
      .default(['http://127.0.0.1:8233', 'http://localhost:8233']),
  })
  .superRefine((env, ctx) => {
    if (env.APP_ENV !== 'development') {
      const problem = adminTokenProblem(env.ADMIN_TOKEN);
      if (problem) ctx.addIssue({ code: 'custom', path: ['ADMIN_TOKEN'], message: problem });
      if (env.DEV_API_KEY !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['DEV_API_KEY'],
          message: `must be unset when APP_ENV=${env.APP_ENV}: tenant demo exists in development only; create tenants with real API keys (docs/deploy.md)`,
        });
      }
    }
    // zod runs this refinement even when PAYLOAD_KEYS failed its own checks (it is then the string).
    const keysValid = env.PAYLOAD_KEYS === undefined || Array.isArray(env.PAYLOAD_KEYS);
    const keyIds = (keysValid && env.PAYLOAD_KEYS?.map((k) => k.id)) || [];
    if (!keysValid) {
      // Reported on PAYLOAD_KEYS already.
    } else if (env.PAYLOAD_ACTIVE_KEY_ID !== undefined && !keyIds.includes(env.PAYLOAD_ACTIVE_KEY_ID)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PAYLOAD_ACTIVE_KEY_ID'],
        message: `must name a key in PAYLOAD_KEYS (${keyIds.join(', ') || 'none set'})`,
      });
    } else if (env.PAYLOAD_ACTIVE_KEY_ID === undefined && keyIds.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['PAYLOAD_ACTIVE_KEY_ID'],
        message: `is required when PAYLOAD_KEYS holds more than one key (${keyIds.join(', ')})`,
      });
    }
    if (keysValid && env.PAYLOAD_ENCRYPTION === 'on' && !keyIds.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['PAYLOAD_KEYS'],
        message: 'is required when PAYLOAD_ENCRYPTION=on',
      });
    }
    if (env.APP_ENV !== 'development' && env.CODEC_SERVER_TOKEN !== undefined) {
      const problem = codecTokenProblem(env.CODEC_SERVER_TOKEN);
      if (problem) ctx.addIssue({ code: 'custom', path: ['CODEC_SERVER_TOKEN'], message: problem });
    }
    if (env.ORCHESTRATION_METRICS_PORT === env.GPU_METRICS_PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['GPU_METRICS_PORT'],
        message: 'must differ from ORCHESTRATION_METRICS_PORT',
      });
    }
    if (env.QUOTA_RESERVATION_TTL_S <= env.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S) {
      // A reservation must outlive its request, or the sweeper reclaims quota of a running request.
      ctx.addIssue({
        code: 'custom',
        path: ['QUOTA_RESERVATION_TTL_S'],
        message: `must exceed REQUEST_DEADLINE_S + ${REQUEST_RUN_TIMEOUT_MARGIN_S} s (the longest a request can hold its reservation): ${env.REQUEST_DEADLINE_S + REQUEST_RUN_TIMEOUT_MARGIN_S}`,
      });
    }
    if (env.QUOTA_RECORD_RETENTION_S < env.IDEMPOTENCY_TTL_S) {
      // A retry re-driving a key whose first submit reserved and started the request must find the
      // reservation record, or it reserves (and runs) the request a second time.
      ctx.addIssue({
        code: 'custom',
        path: ['QUOTA_RECORD_RETENTION_S'],
        message: `must be at least IDEMPOTENCY_TTL_S (${env.IDEMPOTENCY_TTL_S} s): a retry with an Idempotency-Key must find its request's reservation record for as long as the key lives`,
      });
    }
  })
  // A check, not a transform, so the schema stays a ZodObject (its `.shape` lists every variable).
  .overwrite((env) =>
    env.APP_ENV === 'development'
      ? {
          ...env,
          DEV_API_KEY: env.DEV_API_KEY ?? DEVELOPMENT_SECRETS.DEV_API_KEY,
          CODEC_SERVER_TOKEN: env.CODEC_SERVER_TOKEN ?? DEVELOPMENT_SECRETS.CODEC_SERVER_TOKEN,
        }
      : env,
  );

export type Env = z.infer<typeof envSchema>;

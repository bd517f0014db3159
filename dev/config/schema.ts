import { z } from 'zod';
import { bool, logLevel, nonNegative, port, positiveInt, rate } from '../../src/config/fields';
import { parseEnvironment } from '../../src/config/parse-environment';

/**
 * The settings of the dev tools only: the local stack (`npm start`, dev/stack/) and the reference
 * model service (dev/model-service/). None of them reaches the product: its processes parse
 * src/config/schema.ts, which holds production settings only, and the image contains no dev tool.
 * Every field documents its default; `loadDevConfig` reads them.
 */
export const devEnvSchema = z
  .object({
    /** Log level of the reference model service (the same name and values as the product's). @default info */
    LOG_LEVEL: logLevel.default('info'),
    /**
     * `npm start` only: niceness (0-19) of the local stack's background processes (the Temporal dev
     * server, the workers, the model service, the codec server). The API keeps its priority, so on a
     * machine the whole stack saturates an accept or a status read does not queue behind workflow
     * work. 0: every process at one priority. @default 10
     */
    STACK_BACKGROUND_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /**
     * `npm start` only: the address every listener of the local stack binds to (the API and its
     * metrics, the workers' and the SDK's metrics, the model service, the codec server, the Temporal
     * dev server's frontend, Web UI and metrics): loopback, so a development stack with its
     * well-known tokens is not reachable from the network. `0.0.0.0` opens it to every interface.
     * @default 127.0.0.1
     */
    STACK_BIND_HOST: z.string().min(1).default('127.0.0.1'),
    /** `npm start` only: gRPC port of the Temporal dev server it starts. @default 7233 */
    STACK_TEMPORAL_PORT: port.default(7233),
    /** `npm start` only: Web UI port of the Temporal dev server it starts. @default 8233 */
    STACK_TEMPORAL_UI_PORT: port.default(8233),
    /** `npm start` only: Prometheus port of the Temporal dev server it starts. @default 9468 */
    STACK_TEMPORAL_METRICS_PORT: port.default(9468),
    /**
     * `npm start` only, for benchmarks: a second API on this port with API_EAGER_START=false (its
     * metrics on the next port), beside the usual one, so `npm run bench` and `npm run bench:stream`
     * compare eager workflow start on and off in one run on one stack. @default none
     */
    STACK_API_EAGER_OFF_PORT: port.optional(),
    /**
     * Reference model service listen host: all interfaces, as its container needs; `npm start` sets
     * it to STACK_BIND_HOST. @default 0.0.0.0
     */
    MODEL_SERVICE_HOST: z.string().min(1).default('0.0.0.0'),
    /**
     * `npm start` only: also run a real model on CPU, llama.cpp's `llama-server` with the named
     * weights, registered beside ref-small and ref-large (scripts/local-model.sh builds and caches
     * both; docs/models.md). One value: `gemma-3-270m`. @default none
     */
    LOCAL_MODEL: z.enum(['gemma-3-270m']).optional(),
    /** `npm start` with LOCAL_MODEL: the llama-server port (loopback only). @default 8092 */
    LOCAL_MODEL_PORT: port.default(8092),
    /** `npm start` with LOCAL_MODEL: llama-server's parallel slots. @default 4 */
    LOCAL_MODEL_SLOTS: positiveInt.default(4),
    /** `npm start` with LOCAL_MODEL: context length of each slot, in tokens. @default 2048 */
    LOCAL_MODEL_CONTEXT: positiveInt.default(2048),
    /** The llama-server binary for LOCAL_MODEL (set by scripts/local-model.sh). @default built and cached */
    LLAMA_SERVER_BIN: z.string().min(1).optional(),
    /** The GGUF weights for LOCAL_MODEL (set by scripts/local-model.sh). @default fetched and cached */
    LOCAL_MODEL_GGUF: z.string().min(1).optional(),
    /** Reference model service port. @default 8090 */
    MODEL_SERVICE_PORT: port.default(8090),
    /** Reference model service: concurrent generation slots (like a GPU batch). @default 8 */
    MODEL_SERVICE_SLOTS: positiveInt.default(8),
    /** Reference model service: milliseconds per prompt token (prefill). @default 0.05 */
    MODEL_SERVICE_PREFILL_MS_PER_TOKEN: nonNegative.default(0.05),
    /** Reference model service: milliseconds per generated token (decode). @default 2 */
    MODEL_SERVICE_DECODE_MS_PER_TOKEN: nonNegative.default(2),
    /** Reference model service: model names it serves (comma-separated). @default ref-small,ref-large */
    MODEL_SERVICE_MODELS: z.string().default('ref-small,ref-large'),
    /** Reference model service: max queued requests beyond the slots before it answers 503. @default 256 */
    MODEL_SERVICE_MAX_QUEUE: nonNegative.default(256),
    /** Fault: fraction of requests answered 429 with Retry-After. @default 0 */
    FAULT_RATE_429: rate.default(0),
    /** Fault: fraction of requests answered 500. @default 0 */
    FAULT_RATE_500: rate.default(0),
    /** Fault: fraction of requests answered 503 with Retry-After. @default 0 */
    FAULT_RATE_503: rate.default(0),
    /** Fault: fraction of requests answered 400. @default 0 */
    FAULT_RATE_400: rate.default(0),
    /** Fault: Retry-After seconds sent with 429/503. @default 1 */
    FAULT_RETRY_AFTER_S: nonNegative.default(1),
    /** Fault: fraction of requests that get a latency spike. @default 0 */
    FAULT_SPIKE_RATE: rate.default(0),
    /** Fault: latency spike in milliseconds. @default 2000 */
    FAULT_SPIKE_MS: nonNegative.default(2000),
    /** Fault: fraction of requests that hang forever. @default 0 */
    FAULT_HANG_RATE: rate.default(0),
    /** Fault: fraction of requests whose connection is dropped. @default 0 */
    FAULT_DROP_RATE: rate.default(0),
    /**
     * Fault: enable the reference model service's runtime fault API (`/_faults`), which then requires
     * MODEL_SERVICE_ADMIN_TOKEN. @default true
     */
    FAULT_API_ENABLED: bool.default(true),
    /**
     * Bearer token of the reference model service's fault API (`Authorization: Bearer <token>` on
     * `/_faults`): the model service refuses to start with FAULT_API_ENABLED and no token. At least
     * 16 characters. `npm start` generates one into .data/model-service-admin-token. @default unset
     */
    MODEL_SERVICE_ADMIN_TOKEN: z.string().min(16).optional(),
    /**
     * `npm start` only: extra node flags for every process of the stack, space-separated, e.g.
     * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it (docs/benchmarks.md). @default none
     */
    STACK_NODE_ARGS: z
      .string()
      .default('')
      .transform((s) => s.split(' ').filter(Boolean)),
    /**
     * `npm start` only: `1` runs the compiled JavaScript (dist/ and dist-dev/, as the image does);
     * scripts/start.sh sets it after building. Otherwise each process runs its TypeScript under tsx.
     * @default false
     */
    STACK_COMPILED: bool.default(false),
    /** `npm start` only: the Temporal CLI that runs the dev server (scripts/temporal-toolchain.sh sets it). @default temporal */
    TEMPORAL_CLI: z.string().min(1).default('temporal'),
  })
  .superRefine((env, ctx) => {
    const faults = env.FAULT_RATE_429 + env.FAULT_RATE_500 + env.FAULT_RATE_503 + env.FAULT_RATE_400;
    if (faults > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['FAULT_RATE_500'],
        message: 'error rates must sum to at most 1',
      });
    }
  });

export type DevEnv = z.infer<typeof devEnvSchema>;

/**
 * Parses and validates the dev tools' settings (throws ConfigError naming every offending variable).
 * The one place dev/ reads `process.env` for a setting.
 */
export function loadDevConfig(env: NodeJS.ProcessEnv = process.env): DevEnv {
  return parseEnvironment(devEnvSchema, env);
}

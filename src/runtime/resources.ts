import { Connection, Client, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { Pool } from 'pg';
import { createDataConverter } from '../codec/data-converter';
import type { Env } from '../config/schema';
import { createPool } from '../db/pool';
import type { DependencyReporter } from '../observability/dependency-monitor';
import type { Logger } from '../observability/logger';

/** Temporal frontend address: TEMPORAL_ADDRESS or the local dev server. */
export function temporalAddress(cfg: Env): string {
  return cfg.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}

export function createPgPool(cfg: Env, name: string, deps: { dependencies?: DependencyReporter } = {}): Pool {
  return createPool({
    connectionString: cfg.DATABASE_URL,
    max: cfg.DATABASE_POOL_SIZE,
    applicationName: name,
    onIdleError: (err) => deps.dependencies?.report('postgres', false, err),
  });
}

/**
 * A Temporal client that fails fast while the frontend is unreachable: 3 attempts (about half a
 * second) instead of the SDK's 10 (about 20 s), so a submit answers 503 rather than hang. Payloads
 * go through the payload codec (encrypted prompts and outputs).
 */
export async function createTemporalClient(cfg: Env): Promise<{ client: Client; connection: Connection }> {
  // First: a process without its payload keys must refuse to start, whether Temporal answers or not.
  const dataConverter = createDataConverter(cfg);
  const connection = await Connection.connect({
    address: temporalAddress(cfg),
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
  });
  const client = new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE, dataConverter });
  return { client, connection };
}

/** Runs `close` callbacks once on SIGINT/SIGTERM, then exits. */
export function onShutdown(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: string): void => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

import { Pool } from 'pg';

/** Options for {@link createPool}. */
export interface PoolOptions {
  /** PostgreSQL connection string. */
  connectionString: string;
  /** Max connections (DATABASE_POOL_SIZE for the processes' pools). */
  max: number;
  /** Application name shown in pg_stat_activity. @default durable-inference */
  applicationName?: string;
  /**
   * Called when an idle pooled connection fails (PostgreSQL restarted or went away). The pool drops
   * that connection and opens a fresh one on the next query. @default ignore
   */
  onIdleError?: (err: Error) => void;
}

/**
 * A pg pool that survives PostgreSQL restarting; only process entry points call this. An 'error'
 * event with no listener crashes Node, and pg emits one from an idle pooled connection (on the pool)
 * and from a checked-out connection between queries (on the client, e.g. inside a transaction).
 * Both get a listener here; the failed queries still reject, and a broken client is not reused.
 */
export function createPool(opts: PoolOptions): Pool {
  const pool = new Pool({
    connectionString: opts.connectionString,
    max: opts.max,
    application_name: opts.applicationName ?? 'durable-inference',
    connectionTimeoutMillis: 5000,
  });
  pool.on('error', (err) => opts.onIdleError?.(err));
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

import { Pool } from 'pg';

/** Options for {@link createPool}. */
export interface PoolOptions {
  /** PostgreSQL connection string. */
  connectionString: string;
  /** Max connections. @default 10 */
  max?: number;
  /** Application name shown in pg_stat_activity. @default durable-inference */
  applicationName?: string;
}

/** A pg pool; only process entry points call this. */
export function createPool(opts: PoolOptions): Pool {
  return new Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'durable-inference',
    connectionTimeoutMillis: 5000,
  });
}

import type { Pool } from 'pg';

export interface PostgresState {
  autovacuum: string;
  requests_rows: number;
  requests_dead_rows: number;
}

/**
 * What of PostgreSQL's state moves the figures: with autovacuum off (as on some CI machines) the
 * dead rows of earlier runs pile up in `requests`, and each run's statements cost more.
 */
export async function postgresState(pool: Pool): Promise<PostgresState> {
  const setting = await pool.query<{ autovacuum: string }>('SHOW autovacuum');
  const { rows } = await pool.query<{ live: string | null; dead: string | null }>(
    `SELECT n_live_tup AS live, n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = 'requests'`,
  );
  return {
    autovacuum: setting.rows[0]?.autovacuum ?? 'unknown',
    requests_rows: Number(rows[0]?.live ?? 0),
    requests_dead_rows: Number(rows[0]?.dead ?? 0),
  };
}

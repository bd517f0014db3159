import type { Pool, PoolClient } from 'pg';

/** Runs `fn` in a transaction: COMMIT if it resolves, ROLLBACK if it throws. */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const out = await fn(client);
    await client.query('COMMIT');
    client.release();
    return out;
  } catch (err) {
    // A connection whose ROLLBACK fails is broken (e.g. PostgreSQL restarted): destroy it rather
    // than hand it to the next caller.
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    client.release(rolledBack ? undefined : (err as Error));
    throw err;
  }
}

import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';

/**
 * A migrated database of one test file's own, beside the run's shared one: for a test that counts
 * rows of whole tables, which other test files running in parallel would change.
 */
export async function ownDatabase(tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const shared = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const name = `${shared.pathname.slice(1) || 'test'}_${tag}`;
  const admin = new URL(shared);
  admin.pathname = '/postgres';
  const run = async (sql: string): Promise<void> => {
    const c = new Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(shared);
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

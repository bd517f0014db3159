import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';

/** The server's maintenance database, from which test databases are created and dropped. */
export const ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function adminQuery(sql: string): Promise<void> {
  const c = new Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Drops database `name` (connections closed by force). */
export const dropDatabase = (name: string): Promise<void> =>
  adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);

/** Creates database `name` afresh (dropping any left over) and migrates it; returns its URL. */
export async function createMigratedDatabase(name: string): Promise<string> {
  await dropDatabase(name);
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return url.toString();
}

/**
 * A migrated database of one test file's own, beside the run's shared one: for a test that counts
 * rows of whole tables, which other test files running in parallel would change.
 */
export async function ownDatabase(tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const shared = new URL(process.env.TEST_DATABASE_URL ?? ADMIN_DATABASE_URL);
  const name = `${shared.pathname.slice(1) || 'test'}_${tag}`;
  return { url: await createMigratedDatabase(name), drop: () => dropDatabase(name) };
}

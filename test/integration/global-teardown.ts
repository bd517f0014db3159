import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const proc = (globalThis as { __temporal?: ChildProcess }).__temporal;
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  const db = (globalThis as { __testDb?: string }).__testDb;
  if (db) {
    const admin = new Client({
      connectionString: process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
}

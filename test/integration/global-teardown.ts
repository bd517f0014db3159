import type { ChildProcess } from 'node:child_process';
import { dropDatabase } from '../support/own-database';

export default async function globalTeardown(): Promise<void> {
  const proc = (globalThis as { __temporal?: ChildProcess }).__temporal;
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  const db = (globalThis as { __testDb?: string }).__testDb;
  if (db) await dropDatabase(db);
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { startDevServer } from '../support/dev-server';
import { temporalBinaries } from '../support/toolchain';

// One database per jest run (its pid), so two runs on one machine never drop each other's data;
// the teardown drops it.
const TEST_DB = `inference_test_${process.pid}`;

/** One Temporal dev server, one fresh database and one workflow bundle for every integration test. */
export default async function globalSetup(): Promise<void> {
  const { cli } = temporalBinaries();
  const server = TEST_TEMPORAL_ADDRESS_FROM_ENV() ?? (await startDevServer(cli));
  if (typeof server !== 'string') (globalThis as { __temporal?: unknown }).__temporal = server.proc;
  process.env.TEST_TEMPORAL_ADDRESS = typeof server === 'string' ? server : server.address;

  const base = new URL(process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEST_DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEST_DB}`);
  await admin.end();
  base.pathname = `/${TEST_DB}`;
  process.env.TEST_DATABASE_URL = base.toString();
  (globalThis as { __testDb?: string }).__testDb = TEST_DB;
  const pool = createPool({ connectionString: base.toString(), max: 1 });
  await migrate(pool);
  await pool.end();

  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: quietLogger,
  });
  const dir = mkdtempSync(join(tmpdir(), 'wf-bundle-'));
  writeFileSync(join(dir, 'bundle.js'), code);
  process.env.TEST_WORKFLOW_BUNDLE = join(dir, 'bundle.js');
}

function TEST_TEMPORAL_ADDRESS_FROM_ENV(): string | undefined {
  return process.env.TEST_TEMPORAL_ADDRESS || undefined;
}

const noop = (): void => undefined;
const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: console.warn,
  error: console.error,
  log: noop,
};

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowBundle } from '../../src/runtime/workflow-bundle';
import { startDevServer } from '../support/dev-server';
import { createMigratedDatabase } from '../support/own-database';
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
  // The server's own Prometheus metrics (the benchmark's smoke test reads them); unknown for a
  // server given by TEST_TEMPORAL_ADDRESS.
  if (typeof server !== 'string') process.env.TEST_TEMPORAL_METRICS_URL = server.metricsUrl;

  process.env.TEST_DATABASE_URL = await createMigratedDatabase(TEST_DB);
  (globalThis as { __testDb?: string }).__testDb = TEST_DB;

  const bundle = join(mkdtempSync(join(tmpdir(), 'wf-bundle-')), 'bundle.js');
  await writeWorkflowBundle(bundle);
  process.env.TEST_WORKFLOW_BUNDLE = bundle;
}

function TEST_TEMPORAL_ADDRESS_FROM_ENV(): string | undefined {
  return process.env.TEST_TEMPORAL_ADDRESS || undefined;
}

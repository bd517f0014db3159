/**
 * `npm run chaos`: a private stack (PostgreSQL, Redis, Temporal dev server on SQLite, model service,
 * orchestration worker, two GPU workers, API) under a supervisor that restarts whatever dies, sustained
 * load through the API, faults on a schedule, then checks that nothing was lost, duplicated or
 * mis-charged. Prints a table, writes JSON to chaos-results/ (git-ignored), exits 1 if a check failed.
 * See docs/reliability.md.
 *
 * Env: CHAOS_DURATION_S (300), CHAOS_CONCURRENCY (8), CHAOS_FAULT_INTERVAL_S (20), CHAOS_WARMUP_S (10),
 * CHAOS_FAULTS (all, comma-separated), CHAOS_DRAIN_S (150), CHAOS_MAX_IN_FLIGHT (6),
 * CHAOS_DECODE_MS_PER_TOKEN (2), CHAOS_REQUEST_DEADLINE_S (60), CHAOS_OUT_DIR (chaos-results),
 * CHAOS_PG_BIN (/usr/lib/postgresql/15/bin), TEMPORAL_CLI.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chaosOptionsFromEnv } from './harness/options';
import { runChaos, type ChaosResult } from './harness/run-chaos';

/** The result as tables on stdout. */
export function printResult(r: ChaosResult): void {
  console.log(`\nsetup: ${JSON.stringify(r.setup)}`);
  console.table(
    r.checks.map((c) => ({ check: c.name, ok: c.ok ? 'PASS' : 'FAIL', detail: c.detail.slice(0, 160) })),
  );
  const { client_answers: answers, ...counts } = r.counts;
  console.log('counts:', JSON.stringify(counts, null, 1));
  console.log('client answers:', JSON.stringify(answers));
  console.table(
    Object.entries(r.recovery).map(([fault, v]) => ({
      fault,
      injected: v.injected,
      'longest to ready (ms)': v.longestReadyMs,
      'longest to next completion (ms)': v.longestRecoveryMs,
    })),
  );
  console.log(`logs: ${r.logsDir}`);
  console.log(r.ok ? 'ALL CHECKS PASSED' : 'SOME CHECKS FAILED');
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const o = chaosOptionsFromEnv();
  const r = await runChaos(o);
  printResult(r);
  mkdirSync(o.outDir, { recursive: true });
  const file = join(o.outDir, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2));
  console.log(`result: ${file}`);
  process.exit(r.ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { QuotaAuditor } from '../../src/quota/quota-audit';
import { createQuotaStore } from '../../src/quota/create-quota-store';
import { createQuotaRedis as createRedis } from '../../src/quota/redis-client';
import { createPgPool, createTemporalClient } from '../../src/runtime/resources';
import { evaluate, type Check } from './checks';
import { openRequests, runningWorkflows, snapshot, type Snapshot } from './collect';
import { inject, type FaultRecord } from './faults';
import { call, sleep } from './http';
import { LoadDriver } from './load';
import type { ChaosOptions, FaultKind } from './options';
import { QuotaSampler } from './quota-sampler';
import { startChaosStack, type ChaosStack } from './stack';
import { WebhookReceiver } from './webhook-receiver';

const TENANT = 'demo';

/** What a run found: the checks (the verdict), the counts, the faults and their recovery. */
export interface ChaosResult {
  ok: boolean;
  setup: Record<string, unknown>;
  checks: Check[];
  counts: Record<string, unknown>;
  faults: FaultRecord[];
  /** Per fault kind: times injected, longest time to ready, longest time to the next completion. */
  recovery: Record<
    string,
    { injected: number; longestReadyMs: number | null; longestRecoveryMs: number | null }
  >;
  /** Where the processes' logs were kept. */
  logsDir: string;
}

async function admin(s: ChaosStack, method: string, path: string, body?: unknown): Promise<any> {
  const r = await call(s.apiUrl, method, path, {
    body,
    headers: { authorization: `Bearer ${s.adminToken}` },
  });
  if (r.status >= 300) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Injects faults in turn every `faultIntervalS` until `endAt`. */
async function faultSchedule(s: ChaosStack, o: ChaosOptions, endAt: number): Promise<FaultRecord[]> {
  const out: FaultRecord[] = [];
  await sleep(o.warmupS * 1000);
  for (let k = 0; o.faults.length && Date.now() + (o.faultIntervalS * 1000) / 2 < endAt; k++) {
    const kind = o.faults[k % o.faults.length]!;
    const rec = await inject(s, kind);
    o.say(`  fault ${kind}: ${rec.detail}; ready again after ${rec.readyMs} ms`);
    out.push(rec);
    await sleep(Math.max(0, Math.min(rec.at + o.faultIntervalS * 1000, endAt) - Date.now()));
  }
  return out;
}

/** Waits until nothing is open in PostgreSQL or Temporal, at most `drainS`. */
async function drain(s: ChaosStack, o: ChaosOptions): Promise<void> {
  const pool = createPgPool(s.cfg, 'chaos-drain');
  const { client, connection } = await createTemporalClient(s.cfg);
  try {
    const deadline = Date.now() + o.drainS * 1000;
    while (Date.now() < deadline) {
      const [open, running] = await Promise.all([
        openRequests(pool).catch(() => -1),
        runningWorkflows(client).catch(() => -1),
      ]);
      if (open === 0 && running === 0) return;
      await sleep(1000);
    }
    o.say(`  drain: still open after ${o.drainS} s`);
  } finally {
    await Promise.allSettled([pool.end(), connection.close()]);
  }
}

function recoveryOf(faults: FaultRecord[], snap: Snapshot): ChaosResult['recovery'] {
  const completions = [...snap.requests.values()]
    .filter((r) => r.status === 'completed' && r.completed_at)
    .map((r) => ({ accepted: r.accepted_at.getTime(), done: r.completed_at!.getTime() }));
  for (const f of faults) {
    const after = completions.filter((c) => c.accepted > f.at).map((c) => c.done);
    f.recoveryMs = after.length ? Math.min(...after) - f.at : null;
  }
  const out: ChaosResult['recovery'] = {};
  const max = (xs: (number | null | undefined)[]): number | null =>
    xs.some((x) => x == null) ? null : Math.max(...(xs as number[]));
  for (const kind of new Set(faults.map((f) => f.kind))) {
    const of = faults.filter((f) => f.kind === kind);
    out[kind] = {
      injected: of.length,
      longestReadyMs: max(of.map((f) => f.readyMs)),
      longestRecoveryMs: max(of.map((f) => f.recoveryMs)),
    };
  }
  return out;
}

function countsOf(
  snap: Snapshot,
  load: LoadDriver,
  receiver: WebhookReceiver,
  sampler: QuotaSampler,
): Record<string, unknown> {
  const statuses: Record<string, number> = {};
  const failedBy: Record<string, number> = {};
  for (const r of snap.requests.values()) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 'failed')
      failedBy[r.error_type ?? 'unknown'] = (failedBy[r.error_type ?? 'unknown'] ?? 0) + 1;
  }
  const refused429 = Object.entries(load.counts)
    .filter(([k]) => k.endsWith(' 429'))
    .reduce((n, [, v]) => n + v, 0);
  return {
    requests: snap.requests.size,
    accepted_seen_by_clients: load.tracked.size,
    statuses,
    failed_by_cause: failedBy,
    refused_429_at_submit: refused429,
    cancels_sent: [...load.tracked.values()].filter((t) => t.cancelSent).length,
    idempotent_keys: [...load.tracked.values()].filter((t) => t.idemKey).length,
    idempotent_resends: load.idemResends,
    ledger_rows: snap.ledger.size,
    webhook_events: snap.deliveries.length,
    webhook_duplicates_received: receiver.duplicates(),
    webhook_failed_on_purpose: receiver.failedOnPurpose,
    quota_samples: sampler.samples,
    peak_in_flight: sampler.peakInFlight,
    failed: [...snap.requests.values()]
      .filter((r) => r.status === 'failed')
      .slice(0, 20)
      .map((r) => ({
        id: r.id,
        type: r.error_type,
        message: r.error_message,
        attempts: r.attempts,
        last_error: r.last_error,
      })),
    client_answers: load.counts,
  };
}

/**
 * One chaos run: a private stack under a supervisor, sustained load, faults on a schedule, then the
 * checks once everything has drained. Never touches the shared PostgreSQL, Redis or Temporal.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as its own user and must reach its folder inside
  const receiver = new WebhookReceiver();
  const hookUrl = await receiver.start();
  o.say(`chaos: starting a private stack in ${dir} ...`);
  const s = await startChaosStack(o, dir, '127.0.0.1/32').catch(async (err: unknown) => {
    await receiver.stop();
    throw err;
  });
  // Ctrl-C stops the private stack rather than leaving its processes behind.
  const onSignal = (): void => void s.supervisor.stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const logsDir = join(o.outDir, `logs-${new Date(started).toISOString().replace(/[:.]/g, '-')}`);
  try {
    await admin(s, 'PUT', `/admin/tenants/${TENANT}/limits`, { max_in_flight: o.maxInFlight });
    receiver.setSecret((await admin(s, 'POST', `/admin/tenants/${TENANT}/webhooks/request-secret`)).secret);
    o.say(
      `chaos: stack ready in ${Date.now() - started} ms; load for ${o.durationS} s, ${o.concurrency} clients`,
    );

    const load = new LoadDriver(s.apiUrl, s.apiKey, hookUrl, o.concurrency, o.requestDeadlineS * 1000);
    const sampler = new QuotaSampler(s.apiUrl, s.apiKey);
    load.start();
    sampler.start();
    const endAt = Date.now() + o.durationS * 1000;
    const faults = await faultSchedule(s, o, endAt);
    await sleep(Math.max(0, endAt - Date.now()));
    o.say('chaos: load stopping; draining ...');
    await call(s.modelUrl, 'DELETE', '/_faults', { key: s.modelAdminToken }).catch(() => undefined);
    await load.stop();
    await drain(s, o);
    await sampler.stop();

    const cfg = s.cfg;
    const logger = createLogger({ component: 'chaos', level: 'silent' });
    const metrics = createMetrics('chaos');
    const pool = createPgPool(cfg, 'chaos-checks');
    const redis = createRedis(cfg, 'chaos-checks');
    const { client, connection } = await createTemporalClient(cfg);
    try {
      const snap = await snapshot(pool, client);
      const quota = createQuotaStore(cfg, { redis, pool, metrics, logger });
      // Audit before anything else touches the tenant: a status call on an empty Redis would rebuild it.
      const drift = (await quota.tenants()).includes(TENANT)
        ? await new QuotaAuditor({ pool, redis, quota, metrics, logger }).audit(TENANT, false)
        : undefined;
      const quotaStatus = await quota.status(TENANT);
      const recovery = recoveryOf(faults, snap);
      const checks = evaluate({
        tracked: [...load.tracked.values()],
        snap,
        unexpectedExits: s.supervisor.unexpected(),
        idemMismatches: load.idemMismatches,
        drift,
        quotaStatus,
        quotaViolations: sampler.violations,
        quotaSamples: sampler.samples,
        webhooks: receiver.received,
        badSignatures: receiver.badSignatures,
        faults,
      });
      const exits: Record<string, number> = {};
      for (const e of s.supervisor.exits) exits[e.name] = (exits[e.name] ?? 0) + 1;
      return {
        ok: checks.every((c) => c.ok),
        setup: {
          machine: `${cpus().length} cores`,
          temporal: 'dev server, SQLite file',
          duration_s: o.durationS,
          wall_s: Math.round((Date.now() - started) / 1000),
          concurrency: o.concurrency,
          fault_interval_s: o.faultIntervalS,
          max_in_flight: o.maxInFlight,
          decode_ms_per_token: o.decodeMsPerToken,
          request_deadline_s: o.requestDeadlineS,
          model_timeout_ms: o.modelTimeoutMs,
          gpu_workers: 2,
          process_exits: exits,
        },
        checks,
        counts: countsOf(snap, load, receiver, sampler),
        faults,
        recovery,
        logsDir,
      };
    } finally {
      await Promise.allSettled([pool.end(), redis.quit(), connection.close()]);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await s.supervisor.stopAll();
    await receiver.stop();
    mkdirSync(logsDir, { recursive: true });
    cpSync(join(dir, 'logs'), logsDir, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export type { FaultKind };

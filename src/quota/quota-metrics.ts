import { Counter, Histogram, type Registry } from 'prom-client';

const CORRECTIONS = 'inference_quota_corrections_total';
const AUDIT_SECONDS = 'inference_quota_audit_seconds';

/**
 * `inference_quota_corrections_total{tenant,window}`: drift corrections the audit applied, on the
 * process's registry (created on first use). It lives here until src/observability/metrics.ts takes it.
 */
export function quotaCorrections(registry: Registry): Counter<'tenant' | 'window'> {
  const known = registry.getSingleMetric(CORRECTIONS) as Counter<'tenant' | 'window'> | undefined;
  return (
    known ??
    new Counter({
      name: CORRECTIONS,
      help: 'Quota drift corrections applied by the audit (each drift is corrected by one replica, once)',
      labelNames: ['tenant', 'window'],
      registers: [registry],
    })
  );
}

/**
 * `inference_quota_audit_seconds`: time of one tenant's audit (its measurements and any correction),
 * on the process's registry (created on first use). It reads per-day sums, so it should stay in
 * milliseconds however large a tenant's month grows.
 */
export function quotaAuditSeconds(registry: Registry): Histogram {
  const known = registry.getSingleMetric(AUDIT_SECONDS) as Histogram | undefined;
  return (
    known ??
    new Histogram({
      name: AUDIT_SECONDS,
      help: "Time of one tenant's quota audit (ledger sums against Redis counters)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [registry],
    })
  );
}

import { Counter, type Registry } from 'prom-client';

const CORRECTIONS = 'inference_quota_corrections_total';

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

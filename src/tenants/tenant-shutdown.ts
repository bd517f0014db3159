import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { BatchGateway } from '../batches/batch-gateway';
import type { BatchRepo } from '../batches/batch-repo';
import { OPEN_BATCH } from '../batches/batch-types';
import type { WorkflowGateway } from '../inference/workflow-gateway';
import type { Logger } from '../observability/logger';
import { perRegistry } from '../observability/per-registry';
import { UNFINISHED } from '../requests/requests-repo';
import { Periodic } from '../shared/periodic';

/** Work of a disabled tenant asked to cancel, by kind (request, batch). */
export const tenantShutdownMetrics: (registry: Registry) => { cancels: Counter<'kind'> } = perRegistry(
  (r) => ({
    cancels: new Counter({
      name: 'inference_tenant_disable_cancels_total',
      help: 'Requests and batches of a disabled tenant asked to cancel, by kind (request, batch)',
      labelNames: ['kind'],
      ...r,
    }),
  }),
);

/** Dependencies of {@link TenantShutdown}. */
export interface TenantShutdownDeps {
  pool: Pool;
  /** Cancels a request's workflow (the API's: a request whose start is pending is started, then cancelled). */
  workflows: Pick<WorkflowGateway, 'cancel'>;
  batches: Pick<BatchRepo, 'requestCancel'>;
  batchGateway: Pick<BatchGateway, 'cancel'>;
  registry: Registry;
  logger: Logger;
  /** Cancels sent at once. @default 16 */
  concurrency?: number;
}

/** Requests read per page while cancelling. */
const PAGE = 1000;

/** What one pass cancelled. */
export interface ShutdownCounts {
  requests: number;
  batches: number;
}

/**
 * Ends the work of a disabled tenant through the ordinary cancel paths, so everything settles as a
 * tenant's own cancel would: each queued or running request's workflow is cancelled (status
 * `cancelled`, reservation released, the output produced so far charged), each unfinished batch is
 * marked `cancelling` and its workflow cancelled (its running items are cancelled as above, the
 * rest never start). Every step is idempotent: the disable route runs it, a retried disable runs it
 * again, and a periodic sweep runs it for every disabled tenant with open work, so it finishes even
 * if the API died half-way or a replica accepted a request in the instant before it learned of the
 * disable.
 */
export class TenantShutdown {
  private readonly cancels: Counter<'kind'>;
  private readonly periodic = new Periodic(
    () => this.sweep(),
    (err) => this.deps.logger.warn({ err }, 'disabled-tenant sweep failed'),
  );

  constructor(private readonly deps: TenantShutdownDeps) {
    this.cancels = tenantShutdownMetrics(deps.registry).cancels;
  }

  /** Cancels the tenant's unfinished batches, then its queued and running requests. */
  async cancelWork(tenantId: string): Promise<ShutdownCounts> {
    const { pool } = this.deps;
    const batches = await pool.query<{ id: string }>(
      `SELECT id FROM batches WHERE tenant_id = $1 AND status IN ${OPEN_BATCH}`,
      [tenantId],
    );
    await this.each(
      batches.rows.map((b) => b.id),
      async (id) => {
        await this.deps.batches.requestCancel(id, tenantId);
        await this.deps.batchGateway.cancel(id);
        this.cancels.inc({ kind: 'batch' });
      },
    );
    let requests = 0;
    for (let after = ''; ;) {
      const page = await pool.query<{ id: string }>(
        `SELECT id FROM requests WHERE tenant_id = $1 AND status IN ${UNFINISHED} AND id > $2
         ORDER BY id LIMIT ${PAGE}`,
        [tenantId, after],
      );
      const ids = page.rows.map((r) => r.id);
      await this.each(ids, async (id) => {
        if (await this.deps.workflows.cancel(id)) {
          requests++;
          this.cancels.inc({ kind: 'request' });
        }
      });
      if (ids.length < PAGE) break;
      after = ids[ids.length - 1]!;
    }
    const counts = { requests, batches: batches.rowCount ?? 0 };
    if (counts.requests || counts.batches)
      this.deps.logger.info({ tenant: tenantId, ...counts }, 'disabled tenant: work cancelled');
    return counts;
  }

  /** Runs {@link cancelWork} for every disabled tenant that still has open requests or batches. */
  async sweep(): Promise<number> {
    const { rows } = await this.deps.pool.query<{ id: string }>(
      `SELECT t.id FROM tenants t WHERE t.disabled AND (
         EXISTS (SELECT 1 FROM requests r WHERE r.tenant_id = t.id AND r.status IN ${UNFINISHED})
         OR EXISTS (SELECT 1 FROM batches b WHERE b.tenant_id = t.id
                    AND b.status IN ${OPEN_BATCH}))`,
    );
    for (const r of rows) await this.cancelWork(r.id);
    return rows.length;
  }

  /** Sweeps every `intervalMs` until {@link stop}. */
  start(intervalMs: number): void {
    this.periodic.start(intervalMs);
  }

  /** Stops sweeping and waits for a sweep under way. */
  async stop(): Promise<void> {
    await this.periodic.stop();
  }

  private async each(ids: string[], fn: (id: string) => Promise<void>): Promise<void> {
    const n = this.deps.concurrency ?? 16;
    for (let i = 0; i < ids.length; i += n) await Promise.all(ids.slice(i, i + n).map(fn));
  }
}

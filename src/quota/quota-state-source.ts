import type { Pool } from 'pg';
import { withTransaction } from '../db/transaction';
import { ledgerTotals, type LedgerTotals } from './ledger-totals';
import type { TenantLimits } from '../tenants/limits';
import { TenantsRepo } from '../tenants/tenants-repo';

/** A request PostgreSQL knows as accepted but not finished: it holds a reservation. */
export interface OpenRequest {
  requestId: string;
  estimatedTokens: number;
  acceptedAt: Date;
}

/** What the quota store needs from the source of truth to rebuild a tenant. */
export interface QuotaStateSource {
  loadTenant(
    tenantId: string,
    rangesFor: (open: OpenRequest[]) => LedgerRange[],
  ): Promise<TenantState | undefined>;
}

/** A ledger range to sum, named by the Redis key it will fill. */
export interface LedgerRange {
  key: string;
  from: Date;
  to: Date;
}

export interface TenantState {
  limits: TenantLimits;
  usage: Map<string, LedgerTotals>;
  open: OpenRequest[];
}

/** Reads limits, ledger sums and open requests in one consistent PostgreSQL snapshot. */
export class PgQuotaStateSource implements QuotaStateSource {
  private readonly tenants: TenantsRepo;
  constructor(private readonly pool: Pool) {
    this.tenants = new TenantsRepo(pool);
  }

  async loadTenant(
    tenantId: string,
    rangesFor: (open: OpenRequest[]) => LedgerRange[],
  ): Promise<TenantState | undefined> {
    const tenant = await this.tenants.get(tenantId);
    if (!tenant) return undefined;
    // One snapshot: the ledger sums and the open requests must agree with each other.
    return withTransaction(
      this.pool,
      async (client) => {
        const open = await client.query<{ id: string; estimated_tokens: number; accepted_at: Date }>(
          `SELECT r.id, r.estimated_tokens, r.accepted_at FROM requests r
           WHERE r.tenant_id = $1 AND r.status IN ('queued', 'running')
             AND NOT EXISTS (SELECT 1 FROM usage_ledger l WHERE l.request_id = r.id)`,
          [tenantId],
        );
        const openRequests = open.rows.map((r) => ({
          requestId: r.id,
          estimatedTokens: r.estimated_tokens,
          acceptedAt: r.accepted_at,
        }));
        const usage = new Map<string, LedgerTotals>();
        for (const r of rangesFor(openRequests)) {
          usage.set(r.key, await ledgerTotals(client, tenantId, r.from, r.to));
        }
        return { limits: tenant.limits, usage, open: openRequests };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }
}

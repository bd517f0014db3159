import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { withTransaction } from '../db/transaction';
import { hashApiKey } from './api-key';
import type { LimitsOverride, TenantLimits } from './limits';

export interface Tenant {
  id: string;
  name: string;
  tier: string;
  disabled: boolean;
}

/** An API key that works now, as authentication sees it. */
export interface ActiveKey {
  tenant: TenantWithLimits;
  keyId: string;
  /** When the key stops working (a rotated key in its grace period); null: until revoked. */
  expiresAt: Date | null;
}

export interface TenantWithLimits extends Tenant {
  limits: TenantLimits;
  /** Temporal priority key from the tier (1 = highest). */
  priority: number;
}

/** Tenants with their effective limits; callers append JOINs, WHERE and ORDER BY. */
export const LIMITS_SQL = `
  SELECT t.id, t.name, t.tier, t.disabled, tr.priority,
    COALESCE(l.requests_per_minute, tr.requests_per_minute) AS requests_per_minute,
    COALESCE(l.requests_per_day, tr.requests_per_day)       AS requests_per_day,
    COALESCE(l.tokens_per_day, tr.tokens_per_day)           AS tokens_per_day,
    COALESCE(l.tokens_per_month, tr.tokens_per_month)       AS tokens_per_month,
    COALESCE(l.max_in_flight, tr.max_in_flight)             AS max_in_flight
  FROM tenants t JOIN tiers tr ON tr.name = t.tier LEFT JOIN tenant_limits l ON l.tenant_id = t.id`;

/** A row of {@link LIMITS_SQL}. */
export interface LimitsRow {
  id: string;
  name: string;
  tier: string;
  disabled: boolean;
  priority: number;
  requests_per_minute: number;
  requests_per_day: number;
  tokens_per_day: string;
  tokens_per_month: string;
  max_in_flight: number;
}

export function toTenant(r: LimitsRow): TenantWithLimits {
  return {
    id: r.id,
    name: r.name,
    tier: r.tier,
    disabled: r.disabled,
    priority: r.priority,
    limits: {
      requestsPerMinute: r.requests_per_minute,
      requestsPerDay: r.requests_per_day,
      tokensPerDay: Number(r.tokens_per_day),
      tokensPerMonth: Number(r.tokens_per_month),
      maxInFlight: r.max_in_flight,
    },
  };
}

/** Tenants, their API keys and their effective limits (tier defaults + overrides). */
export class TenantsRepo {
  constructor(private readonly pool: Pool) {}

  /**
   * The active key with this SHA-256 digest, its tenant (disabled or not) and when it stops working
   * (a rotated key's grace period), or undefined.
   */
  async findApiKey(keyHash: Buffer): Promise<ActiveKey | undefined> {
    const { rows } = await this.pool.query<LimitsRow & { key_id: string; revoked_at: Date | null }>(
      `${LIMITS_SQL.replace('SELECT', 'SELECT k.id AS key_id, k.revoked_at,')}
       JOIN api_keys k ON k.tenant_id = t.id
       WHERE k.key_hash = $1 AND (k.revoked_at IS NULL OR k.revoked_at > now())`,
      [keyHash],
    );
    const r = rows[0];
    return r && { tenant: toTenant(r), keyId: r.key_id, expiresAt: r.revoked_at };
  }

  async get(tenantId: string): Promise<TenantWithLimits | undefined> {
    const { rows } = await this.pool.query<LimitsRow>(`${LIMITS_SQL} WHERE t.id = $1`, [tenantId]);
    return rows[0] && toTenant(rows[0]);
  }

  /** Every tenant with its effective limits (used to rebuild Redis). */
  async list(): Promise<TenantWithLimits[]> {
    const { rows } = await this.pool.query<LimitsRow>(`${LIMITS_SQL} ORDER BY t.id`);
    return rows.map(toTenant);
  }

  /** Creates the tenant if missing (tier is only set on creation). */
  async ensure(t: { id: string; name: string; tier: string }): Promise<void> {
    await this.pool.query(
      'INSERT INTO tenants (id, name, tier) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [t.id, t.name, t.tier],
    );
  }

  /** Registers an API key for a tenant; a key that already exists is left as it is. */
  async addApiKey(tenantId: string, key: string, label = ''): Promise<void> {
    await this.pool.query(
      `INSERT INTO api_keys (id, tenant_id, key_hash, label) VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING`,
      [`key_${randomUUID()}`, tenantId, hashApiKey(key), label],
    );
  }

  /** Applies overrides (null clears one) and returns the new effective limits. */
  async setLimits(tenantId: string, o: LimitsOverride): Promise<TenantWithLimits | undefined> {
    const cols = Object.keys(o) as (keyof LimitsOverride)[];
    const values = cols.map((c) => o[c] ?? null);
    const found = await withTransaction(this.pool, async (client) => {
      const exists = await client.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
      if (!exists.rowCount) return false;
      await client.query(
        `INSERT INTO tenant_limits (tenant_id, ${cols.join(', ')}) VALUES ($1, ${cols.map((_, i) => `$${i + 2}`).join(', ')})
         ON CONFLICT (tenant_id) DO UPDATE SET ${cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, updated_at = now()`,
        [tenantId, ...values],
      );
      return true;
    });
    if (!found) return undefined;
    return this.get(tenantId);
  }
}

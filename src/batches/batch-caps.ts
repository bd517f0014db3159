import type { Pool, PoolClient } from 'pg';
import { AppError } from '../errors/app-error';
import { ErrorType } from '../shared/error-types';
import { OPEN_BATCH } from './batch-types';

/** Per-tenant caps on batches that have not ended (validating, in progress or cancelling). */
export interface BatchCaps {
  /** Batches in flight (BATCH_TENANT_MAX_IN_FLIGHT). */
  maxBatches: number;
  /** Items of those batches (BATCH_TENANT_MAX_ITEMS_IN_FLIGHT). */
  maxItems: number;
  /** Estimated tokens of those batches, prompt + first reservation slice per item (BATCH_TENANT_MAX_ENQUEUED_TOKENS). */
  maxTokens: number;
}

/** A tenant's batches that have not ended, summed. */
export interface InFlight {
  batches: number;
  items: number;
  tokens: number;
}

/** The caps' names, as refusals name them (the `param` of the 429). */
export type CapName = 'batches_in_flight' | 'batch_items_in_flight' | 'batch_enqueued_tokens';

const OPEN = `status IN ${OPEN_BATCH}`;

/** Sums a tenant's open batches, other than `exceptId` (the batch being created). */
export async function inFlight(db: Pool | PoolClient, tenantId: string, exceptId = ''): Promise<InFlight> {
  const { rows } = await db.query<{ batches: string; items: string | null; tokens: string | null }>(
    `SELECT count(*) AS batches, sum(total) AS items, sum(estimated_tokens) AS tokens
     FROM batches WHERE tenant_id = $1 AND ${OPEN} AND id <> $2`,
    [tenantId, exceptId],
  );
  const r = rows[0]!;
  return { batches: Number(r.batches), items: Number(r.items ?? 0), tokens: Number(r.tokens ?? 0) };
}

/**
 * Serialises the admission of one tenant's batches (until the transaction ends), so two concurrent
 * creates cannot both fit under a cap that only one fits under.
 */
export async function lockTenantBatches(c: PoolClient, tenantId: string): Promise<void> {
  await c.query(`SELECT pg_advisory_xact_lock(hashtextextended('batches:' || $1, 0))`, [tenantId]);
}

/** The first cap that `now` + the new batch (`adding`) would pass, or undefined. */
export function capExceeded(caps: BatchCaps, now: InFlight, adding: InFlight): AppError | undefined {
  const checks: [CapName, number, number, number][] = [
    ['batches_in_flight', caps.maxBatches, now.batches, adding.batches],
    ['batch_items_in_flight', caps.maxItems, now.items, adding.items],
    ['batch_enqueued_tokens', caps.maxTokens, now.tokens, adding.tokens],
  ];
  for (const [name, limit, used, need] of checks) {
    if (used + need <= limit) continue;
    return new AppError(
      ErrorType.QuotaExceeded,
      `${name} exceeded: limit ${limit}, in flight ${used}, this batch needs ${need}` +
        ' (nothing was stored; retry once earlier batches finish)',
      {
        param: name,
        retryAfterS: 60,
        headers: {
          'X-RateLimit-Limit': String(limit),
          'X-RateLimit-Remaining': String(Math.max(0, limit - used)),
          'X-RateLimit-Limit-Name': name,
        },
      },
    );
  }
  return undefined;
}

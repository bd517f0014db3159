import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import { perRegistry } from '../observability/per-registry';

/** How a status read (GET, cancel, stream) found its request id. */
export type LookupOutcome =
  /** Not a request id: 404 with no I/O. */
  | 'malformed'
  /** Its row (PostgreSQL). */
  | 'row'
  /** No row, no reservation, no batch item of the caller: 404 with no Temporal call. */
  | 'unknown'
  /** No row but accepted (a reservation or a batch item): Temporal was asked. */
  | 'temporal';

/** `inference_request_lookups_total{outcome}`. */
export const lookupMetrics: (registry: Registry) => Counter<'outcome'> = perRegistry(
  (r) =>
    new Counter({
      name: 'inference_request_lookups_total',
      help: 'Status reads (GET, cancel, stream) by how the request id was found: malformed, row, unknown (404 without a Temporal call), temporal (accepted without its row yet: Temporal asked)',
      labelNames: ['outcome'],
      ...r,
    }),
);

/** Dependencies of {@link AcceptedIds}. */
export interface AcceptedIdsDeps {
  /**
   * Its reservation records, kept QUOTA_RECORD_RETENTION_S after they settle (`QuotaStore`): the
   * state of a request's record, undefined when there is none.
   */
  quota: { reservationState(tenantId: string, requestId: string): Promise<string | undefined> };
  pool: Pick<Pool, 'query'>;
  /** Where `inference_request_lookups_total` is registered. */
  registry: Registry;
  logger: Logger;
}

/**
 * Says whether a request id whose row is not (yet) written was accepted for a tenant, without
 * asking Temporal: a status read of a made-up id must cost a hostile tenant no Temporal call.
 *
 * A request can exist without its row in two ways, and each leaves a trace here first:
 * - accepted while PostgreSQL could not take the row: the accept reserved its quota first, so its
 *   reservation record is in Redis (under the tenant's key: another tenant's id is not found), and
 *   its workflow writes the row once PostgreSQL is back;
 * - a batch item whose child workflow has not started: its `batch_items` row names the request id.
 * Only then is Temporal asked. If Redis cannot answer, the id counts as accepted (Temporal decides,
 * as before): a real request is never answered 404 because a check failed. What this cannot find is
 * a request whose row and reservation record were both lost (PostgreSQL down at accept, then Redis
 * emptied): it reads 404 until its workflow writes the row.
 */
export class AcceptedIds {
  private readonly lookups: Counter<'outcome'>;

  constructor(private readonly deps: AcceptedIdsDeps) {
    this.lookups = lookupMetrics(deps.registry);
  }

  /** Counts one status read by how its id was found. */
  count(outcome: LookupOutcome): void {
    this.lookups.inc({ outcome });
  }

  async accepted(requestId: string, tenantId: string): Promise<boolean> {
    const reserved = await this.deps.quota.reservationState(tenantId, requestId).then(
      (state) => state !== undefined,
      (err: unknown) => {
        this.deps.logger.warn({ err, requestId }, 'reservation look-up failed: asking Temporal');
        return true;
      },
    );
    if (reserved) return true;
    const { rows } = await this.deps.pool.query(
      `SELECT 1 FROM batch_items i JOIN batches b ON b.id = i.batch_id
       WHERE i.request_id = $1 AND b.tenant_id = $2`,
      [requestId, tenantId],
    );
    return rows.length > 0;
  }
}

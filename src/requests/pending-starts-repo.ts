import type { Pool } from 'pg';
import { TERMINAL, type SealedInput } from './requests-repo';

/** A request acknowledged whose workflow may not have started yet. */
export interface PendingStart {
  id: string;
  input: SealedInput;
}

/**
 * The outbox of workflow starts (table `pending_starts`, migration 006): the sealed workflow input
 * of each request acknowledged before its workflow started, from accept until the start.
 */
export class PendingStartsRepo {
  constructor(private readonly pool: Pool) {}

  /** Open requests accepted over `olderThanS` seconds ago still in the outbox, oldest first. */
  async older(olderThanS: number, limit: number): Promise<PendingStart[]> {
    const { rows } = await this.pool.query<{ id: string; input: SealedInput }>(
      `SELECT p.request_id AS id, p.input FROM pending_starts p JOIN requests r ON r.id = p.request_id
       WHERE p.accepted_at < now() - make_interval(secs => $1) AND r.status NOT IN ${TERMINAL}
       ORDER BY p.accepted_at LIMIT $2`,
      [olderThanS, limit],
    );
    return rows;
  }

  /** The sealed input of an open request still in the outbox. */
  async of(id: string): Promise<SealedInput | undefined> {
    const { rows } = await this.pool.query<{ input: SealedInput }>(
      `SELECT p.input FROM pending_starts p JOIN requests r ON r.id = p.request_id
       WHERE p.request_id = $1 AND r.status NOT IN ${TERMINAL}`,
      [id],
    );
    return rows[0]?.input;
  }

  /** Drops these requests from the outbox (their workflows started); returns how many were there. */
  async clear(ids: readonly string[]): Promise<number> {
    if (!ids.length) return 0;
    const r = await this.pool.query('DELETE FROM pending_starts WHERE request_id = ANY($1)', [ids]);
    return r.rowCount ?? 0;
  }

  /**
   * Drops the outbox entries, accepted over `olderThanS` seconds ago, of requests that finished
   * before their start was recorded; at most `limit` per call, oldest first. Reads the outbox alone
   * first (an index range of `accepted_at`, almost always empty) and looks up `requests` only by the
   * ids it found: a join left to the planner scanned the whole `requests` table at every sweep
   * when its statistics were stale (38 ms per sweep at 17,000 rows, growing with the table).
   */
  async clearFinished(olderThanS: number, limit = 1000): Promise<number> {
    const { rows } = await this.pool.query<{ request_id: string }>(
      `SELECT request_id FROM pending_starts
       WHERE accepted_at < now() - make_interval(secs => $1) ORDER BY accepted_at LIMIT $2`,
      [olderThanS, limit],
    );
    if (!rows.length) return 0;
    const r = await this.pool.query(
      `DELETE FROM pending_starts p USING requests r
       WHERE p.request_id = ANY($1) AND r.id = ANY($1) AND r.id = p.request_id
         AND r.status IN ${TERMINAL}`,
      [rows.map((x) => x.request_id)],
    );
    return r.rowCount ?? 0;
  }
}

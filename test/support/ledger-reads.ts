import type { Pool, PoolClient } from 'pg';

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function rowsRead(node: PlanNode, table: string): number {
  const own =
    node['Relation Name'] === table
      ? ((node['Actual Rows'] ?? 0) +
          (node['Rows Removed by Filter'] ?? 0) +
          (node['Rows Removed by Index Recheck'] ?? 0)) *
        (node['Actual Loops'] ?? 1)
      : 0;
  return own + (node.Plans ?? []).reduce((n, p) => n + rowsRead(p, table), 0);
}

/**
 * A pool whose every SELECT is first run under `EXPLAIN (ANALYZE)` to count the rows PostgreSQL read
 * from `table` (returned, filtered out or rechecked), then run for real. For tests of how much a
 * read-only path reads, whatever plan PostgreSQL picks.
 */
export function countingReads(pool: Pool, table: string): { pool: Pool; read: () => number } {
  let read = 0;
  const wrap =
    <Q extends Pick<PoolClient, 'query'>>(q: Q) =>
    async (text: string, values?: unknown[]) => {
      if (/^\s*(SELECT|WITH)\b/i.test(text)) {
        const { rows } = await q.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
          values,
        );
        read += rowsRead(rows[0]!['QUERY PLAN'][0]!.Plan, table);
      }
      return q.query(text, values);
    };
  const counting = {
    query: wrap(pool),
    async connect() {
      const client = await pool.connect();
      return Object.assign(Object.create(client) as PoolClient, {
        query: wrap(client),
        release: (err?: Error | boolean) => client.release(err),
      });
    },
  };
  return { pool: counting as unknown as Pool, read: () => read };
}

import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../../../src/observability/logger';
import { TenantShutdown } from '../../../src/tenants/tenant-shutdown';

/** A pool answering the shutdown's three queries from in-memory rows. */
function fakePool(state: {
  requests: { id: string; open: boolean }[];
  batches: string[];
  disabled: string[];
}) {
  const queries: string[] = [];
  const pool = {
    query: async (sql: string, params: unknown[] = []) => {
      queries.push(sql);
      if (sql.includes('FROM batches WHERE tenant_id')) {
        return { rows: state.batches.map((id) => ({ id })), rowCount: state.batches.length };
      }
      if (sql.includes('FROM requests WHERE tenant_id')) {
        const after = params[1] as string;
        const limit = Number(/LIMIT (\d+)/.exec(sql)![1]);
        const rows = state.requests
          .filter((r) => r.open && r.id > after)
          .sort((x, y) => (x.id < y.id ? -1 : 1))
          .slice(0, limit)
          .map((r) => ({ id: r.id }));
        return { rows, rowCount: rows.length };
      }
      if (sql.includes('FROM tenants t WHERE t.disabled')) {
        return { rows: state.disabled.map((id) => ({ id })), rowCount: state.disabled.length };
      }
      throw new Error(`unexpected query ${sql}`);
    },
  };
  return { pool: pool as unknown as Pool, queries };
}

function shutdownWith(state: Parameters<typeof fakePool>[0]) {
  const { pool, queries } = fakePool(state);
  const cancelled: string[] = [];
  const batchCalls: string[] = [];
  const shutdown = new TenantShutdown({
    pool,
    // A request's workflow closes once cancelled: a second cancel finds nothing (false).
    workflows: {
      cancel: async (id) => {
        const r = state.requests.find((x) => x.id === id)!;
        if (cancelled.includes(id)) return false;
        cancelled.push(id);
        r.open = false;
        return true;
      },
    },
    batches: { requestCancel: async (id) => (batchCalls.push(`mark ${id}`), 'cancelling' as const) },
    batchGateway: { cancel: async (id) => (batchCalls.push(`cancel ${id}`), true) },
    registry: new Registry(),
    logger: createLogger({ component: 'shutdown-test', level: 'silent' }),
    concurrency: 7,
  });
  return { shutdown, cancelled, batchCalls, queries };
}

test('cancels every open request of the tenant, page by page, and marks then cancels its batches', async () => {
  const requests = Array.from({ length: 2503 }, (_, i) => ({
    id: `inf_${String(i).padStart(5, '0')}`,
    open: true,
  }));
  const { shutdown, cancelled, batchCalls, queries } = shutdownWith({
    requests,
    batches: ['b1', 'b2'],
    disabled: [],
  });
  expect(await shutdown.cancelWork('t')).toEqual({ requests: 2503, batches: 2 });
  expect(new Set(cancelled).size).toBe(2503);
  expect(batchCalls.sort()).toEqual(['cancel b1', 'cancel b2', 'mark b1', 'mark b2']);
  // Batches first (no new items start), then three pages of requests.
  expect(queries.filter((q) => q.includes('FROM requests')).length).toBe(3);
  expect(queries[0]).toContain('FROM batches');
});

test('a repeated run (a retried disable, the sweep) cancels nothing twice', async () => {
  const requests = [
    { id: 'inf_a', open: true },
    { id: 'inf_b', open: true },
  ];
  const { shutdown, cancelled } = shutdownWith({ requests, batches: [], disabled: ['t'] });
  expect(await shutdown.cancelWork('t')).toEqual({ requests: 2, batches: 0 });
  // One request's row is still open (its workflow has not written `cancelled` yet): cancel again is a no-op.
  requests[0]!.open = true;
  expect(await shutdown.cancelWork('t')).toEqual({ requests: 0, batches: 0 });
  expect(cancelled).toEqual(['inf_a', 'inf_b']);
  expect(await shutdown.sweep()).toBe(1);
});

import type { RequestRecord, RequestsRepo } from '../requests/requests-repo';
import { isTerminal } from '../shared/types';
import type { RequestFollower } from './request-follower';
import type { StreamMetrics } from './stream-metrics';

/** The request's row from PostgreSQL if it is terminal. */
async function terminalRow(
  requests: Pick<RequestsRepo, 'get'>,
  id: string,
  tenantId: string,
): Promise<RequestRecord | undefined> {
  const row = await requests.get(id, tenantId);
  return row && isTerminal(row.status) ? row : undefined;
}

/** The request's status from PostgreSQL if terminal: how a follower learns an end it did not see. */
export function terminalStatusOf(
  requests: Pick<RequestsRepo, 'get'>,
  id: string,
  tenantId: string,
): () => Promise<string | undefined> {
  return async () => (await terminalRow(requests, id, tenantId))?.status;
}

/**
 * Waits until the request is terminal (its end signal, or PostgreSQL) or `signal` ends the wait;
 * returns its row when terminal, else undefined. One wait for `Prefer: wait` and non-streaming
 * OpenAI calls alike, counted as a `wait` client. `fresh`: submitted by this call (not a replay), so
 * not yet ended: no PostgreSQL read before the first wait.
 */
export async function awaitEnd(
  deps: { follower: RequestFollower; requests: Pick<RequestsRepo, 'get'>; streamMetrics: StreamMetrics },
  id: string,
  tenantId: string,
  signal: AbortSignal,
  fresh = false,
): Promise<RequestRecord | undefined> {
  deps.streamMetrics.clientsAttached.inc({ kind: 'wait' });
  let ended: RequestRecord | undefined;
  try {
    // A wait that learns the end from PostgreSQL keeps the row it read there.
    const terminalStatus = async (): Promise<string | undefined> =>
      (ended = await terminalRow(deps.requests, id, tenantId))?.status;
    const end = await deps.follower.end(id, { signal, terminalStatus, fresh });
    if (end) deps.streamMetrics.waitEnds.inc({ by: end.by });
  } finally {
    deps.streamMetrics.clientsAttached.dec({ kind: 'wait' });
  }
  return ended ?? (await terminalRow(deps.requests, id, tenantId));
}

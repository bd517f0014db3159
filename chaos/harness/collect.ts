import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import { WorkflowType } from '../../src/contract/temporal-contract';

const OPEN = ['queued', 'running'];

/** A request row as the checks need it. */
export interface RequestRow {
  id: string;
  status: string;
  error_type: string | null;
  error_message: string | null;
  last_error: string | null;
  attempts: number;
  total_tokens: number | null;
  accepted_at: Date;
  completed_at: Date | null;
}

/** What PostgreSQL and Temporal hold at the end of a run. */
export interface Snapshot {
  requests: Map<string, RequestRow>;
  /** Ledger rows per request id: count and tokens. */
  ledger: Map<string, { rows: number; tokens: number }>;
  idempotency: Map<string, string>;
  deliveries: { id: string; request_id: string; event: string; delivered: boolean; failed: boolean }[];
  /** Runs of each inferenceWorkflow id, with their status. */
  workflows: Map<string, string[]>;
  /** Webhook delivery workflows still running. */
  deliveriesRunning: number;
}

export async function openRequests(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM requests WHERE status = ANY($1)`,
    [OPEN],
  );
  return Number(rows[0]!.n);
}

async function listRuns(client: Client, query: string): Promise<{ id: string; status: string }[]> {
  const out: { id: string; status: string }[] = [];
  for await (const wf of client.workflow.list({ query }))
    out.push({ id: wf.workflowId, status: wf.status.name });
  return out;
}

export async function runningWorkflows(client: Client): Promise<number> {
  return (await listRuns(client, `ExecutionStatus = 'Running'`)).length;
}

export async function snapshot(pool: Pool, client: Client): Promise<Snapshot> {
  const [req, led, idem, del] = await Promise.all([
    pool.query<RequestRow>(
      `SELECT id, status, error_type, error_message, last_error, attempts, total_tokens, accepted_at, completed_at FROM requests`,
    ),
    pool.query<{ request_id: string; n: string; tok: string }>(
      `SELECT request_id, count(*) AS n, sum(total_tokens) AS tok FROM usage_ledger GROUP BY request_id`,
    ),
    pool.query<{ idem_key: string; request_id: string }>(`SELECT idem_key, request_id FROM idempotency_keys`),
    pool.query<{ id: string; request_id: string; event: string; delivered: boolean; failed: boolean }>(
      `SELECT id, request_id, event, delivered_at IS NOT NULL AS delivered, failed_at IS NOT NULL AS failed
       FROM webhook_deliveries`,
    ),
  ]);
  const workflows = new Map<string, string[]>();
  for (const w of await listRuns(client, `WorkflowType = '${WorkflowType.inference}'`))
    workflows.set(w.id, [...(workflows.get(w.id) ?? []), w.status]);
  const deliveriesRunning = (
    await listRuns(client, `WorkflowType = '${WorkflowType.webhookDelivery}' AND ExecutionStatus = 'Running'`)
  ).length;
  return {
    requests: new Map(req.rows.map((r) => [r.id, r])),
    ledger: new Map(led.rows.map((l) => [l.request_id, { rows: Number(l.n), tokens: Number(l.tok) }])),
    idempotency: new Map(idem.rows.map((i) => [i.idem_key, i.request_id])),
    deliveries: del.rows,
    workflows,
    deliveriesRunning,
  };
}

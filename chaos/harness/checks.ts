import type { BucketDrift } from '../../src/quota/quota-audit';
import type { LimitStatus } from '../../src/quota/quota-store';
import type { Snapshot } from './collect';
import type { FaultRecord } from './faults';
import type { Tracked } from './load';
import type { ExitRecord } from './supervisor';
import type { QuotaViolation } from './quota-sampler';

const TERMINAL = ['completed', 'failed', 'cancelled', 'rejected'];

/** One named check: ok, and what broke it (a few examples) when not. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Everything the checks look at. */
export interface CheckInputs {
  tracked: Tracked[];
  snap: Snapshot;
  unexpectedExits: ExitRecord[];
  idemMismatches: unknown[];
  drift: BucketDrift[] | undefined;
  quotaStatus: Record<string, LimitStatus>;
  quotaViolations: QuotaViolation[];
  quotaSamples: number;
  /** Webhook-ids received, after dedupe, with the request and status they carried. */
  webhooks: Map<string, { requestId: string; status: string }>;
  badSignatures: number;
  faults: FaultRecord[];
}

const some = (xs: unknown[], n = 5): string =>
  xs.length ? `${xs.length}: ${JSON.stringify(xs.slice(0, n))}` : '0';

function check(name: string, bad: unknown[], okDetail: string): Check {
  return { name, ok: bad.length === 0, detail: bad.length ? `failing ${some(bad)}` : okDetail };
}

/** The run's verdict: every guarantee as one check. */
export function evaluate(i: CheckInputs): Check[] {
  const { snap } = i;
  const reqs = [...snap.requests.values()];
  const checks: Check[] = [];

  checks.push(
    check(
      'no unexpected process exit',
      i.unexpectedExits.map((e) => ({
        name: e.name,
        code: e.code,
        signal: e.signal,
        tail: e.tail?.slice(-300),
      })),
      'every exit was one the run caused',
    ),
  );
  checks.push(
    check(
      'every accepted request is terminal',
      i.tracked
        .filter((t) => !TERMINAL.includes(snap.requests.get(t.id)?.status ?? ''))
        .map((t) => `${t.id}=${snap.requests.get(t.id)?.status ?? 'missing'}`),
      `${i.tracked.length} accepted, all terminal`,
    ),
  );
  checks.push(
    check(
      'no accepted request lost (in PostgreSQL and Temporal)',
      i.tracked.filter((t) => !snap.requests.has(t.id) || !snap.workflows.has(t.id)).map((t) => t.id),
      `${i.tracked.length} found in both`,
    ),
  );
  const running = [...snap.workflows].filter(([, runs]) => runs.includes('RUNNING')).map(([id]) => id);
  checks.push(
    check(
      'nothing left open (PostgreSQL rows, Temporal workflows)',
      [...reqs.filter((r) => !TERMINAL.includes(r.status)).map((r) => `${r.id}=${r.status}`), ...running],
      `${reqs.length} rows terminal, ${snap.workflows.size} workflows closed`,
    ),
  );
  // A submit refused with 503 because its workflow could not be started (Temporal down) leaves its
  // row, written before the start, ended `failed` / service_unavailable: no workflow, never seen as
  // accepted by a client (checked here), and no ledger row (checked with the ledger below).
  const trackedIds = new Set(i.tracked.map((t) => t.id));
  const notStarted = (r: (typeof reqs)[number]): boolean =>
    !snap.workflows.has(r.id) && r.status === 'failed' && r.error_type === 'service_unavailable';
  checks.push(
    check(
      'one workflow per request, one request per workflow',
      [
        ...[...snap.workflows]
          .filter(([, runs]) => runs.length !== 1)
          .map(([id, runs]) => `${id}: ${runs.join(',')}`),
        ...reqs
          .filter((r) => !snap.workflows.has(r.id) && (!notStarted(r) || trackedIds.has(r.id)))
          .map((r) => `${r.id}: no workflow (${r.status}${trackedIds.has(r.id) ? ', accepted' : ''})`),
        ...[...snap.workflows.keys()].filter((id) => !snap.requests.has(id)).map((id) => `${id}: no row`),
      ],
      `${snap.workflows.size} workflows, ${reqs.length} rows (${reqs.filter(notStarted).length} refused with 503 before their start)`,
    ),
  );
  const keyed = i.tracked.filter((t) => t.idemKey);
  checks.push(
    check(
      'idempotent re-sends map to one request',
      [
        ...i.idemMismatches,
        ...keyed
          .filter((t) => snap.idempotency.get(t.idemKey!) !== t.id)
          .map((t) => `${t.idemKey} -> ${t.id}`),
      ],
      `${keyed.length} keys, each bound to its one request`,
    ),
  );
  const completed = reqs.filter((r) => r.status === 'completed');
  checks.push(
    check(
      'one ledger row per completed request, tokens equal',
      [
        ...completed
          .filter((r) => snap.ledger.get(r.id)?.rows !== 1)
          .map((r) => `${r.id}: ${snap.ledger.get(r.id)?.rows ?? 0} rows`),
        ...reqs
          .filter((r) => notStarted(r) && snap.ledger.has(r.id))
          .map((r) => `${r.id}: charged, never started`),
        ...[...snap.ledger]
          .filter(([id, l]) => l.rows !== 1 || l.tokens !== snap.requests.get(id)?.total_tokens)
          .map(([id, l]) => `${id}: ledger ${l.tokens}, request ${snap.requests.get(id)?.total_tokens}`),
      ],
      `${completed.length} completed, ${snap.ledger.size} ledger rows (partial charges of cancelled/failed included)`,
    ),
  );
  checks.push(
    check(
      'Redis quota counters equal the ledger (minute, day, month)',
      i.drift === undefined
        ? ['tenant not initialised in Redis: nothing to compare']
        : i.drift.filter((d) => d.requestsDrift !== 0 || d.tokensDrift !== 0),
      `audit: ${JSON.stringify(i.drift?.map((d) => [d.window, d.requestsDrift, d.tokensDrift]))}`,
    ),
  );
  checks.push(
    check(
      'nothing reserved after the drain',
      Object.entries(i.quotaStatus)
        .filter(([, v]) => v.reserved !== 0)
        .map(([k, v]) => `${k}: ${v.reserved}`),
      'reserved 0 on every limit',
    ),
  );
  checks.push(
    check(
      'no limit exceeded at any moment',
      [
        ...(i.quotaSamples === 0 ? ['no GET /v1/quota sample answered'] : []),
        ...i.quotaViolations,
        ...Object.entries(i.quotaStatus)
          .filter(([, v]) => v.used + v.reserved > v.limit)
          .map(([k, v]) => `${k} at the end: ${JSON.stringify(v)}`),
      ],
      `${i.quotaSamples} samples of GET /v1/quota, used + reserved <= limit in each`,
    ),
  );
  checks.push(webhookCheck(i));
  checks.push(
    check(
      'recovered after every fault',
      i.faults.filter((f) => f.readyMs === null || f.recoveryMs === null).map((f) => `${f.kind}@${f.at}`),
      `${i.faults.length} faults`,
    ),
  );
  return checks;
}

/** Every webhook event delivered, and received exactly once per webhook-id after dedupe. */
function webhookCheck(i: CheckInputs): Check {
  const { snap } = i;
  const reqBound = snap.deliveries.filter((d) => d.id.endsWith('-req'));
  const byId = new Map(reqBound.map((d) => [d.id, d]));
  const bad: string[] = [];
  for (const t of i.tracked.filter((x) => x.webhook)) {
    const status = snap.requests.get(t.id)?.status ?? '';
    const id = `whk-${t.id}-${status}-req`;
    if (!byId.has(id)) bad.push(`${id}: no delivery row`);
  }
  for (const d of reqBound) {
    if (!d.delivered || d.failed) bad.push(`${d.id}: delivered=${d.delivered} failed=${d.failed}`);
    const got = i.webhooks.get(d.id);
    if (!got) bad.push(`${d.id}: never received`);
    else if (got.requestId !== d.request_id || got.status !== snap.requests.get(d.request_id)?.status)
      bad.push(`${d.id}: carried ${got.requestId}/${got.status}`);
  }
  for (const id of i.webhooks.keys()) if (!byId.has(id)) bad.push(`${id}: received, but no such delivery`);
  const perRequest = new Map<string, number>();
  for (const d of reqBound) perRequest.set(d.request_id, (perRequest.get(d.request_id) ?? 0) + 1);
  for (const [id, n] of perRequest) if (n > 1) bad.push(`${id}: ${n} terminal events`);
  if (i.badSignatures) bad.push(`${i.badSignatures} deliveries with a bad signature`);
  if (snap.deliveriesRunning) bad.push(`${snap.deliveriesRunning} delivery workflows still running`);
  return check(
    'every webhook event delivered, once per webhook-id after dedupe',
    bad,
    `${reqBound.length} events, all delivered and received`,
  );
}

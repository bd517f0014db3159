/**
 * Where a request's time goes, hop by hop, with eager workflow start off and on: sequential requests
 * (`Prefer: wait`) to each API in turn, then each one's history read back from Temporal, which
 * stamps every event. Against a running stack (`STACK_API_EAGER_OFF_PORT=8180 npm start`).
 *
 *   node --import tsx bench/hops.ts
 *
 * Env: API (http://127.0.0.1:$API_PORT, 8080), API_EAGER_OFF (none: the one API only),
 * TEMPORAL_ADDRESS (127.0.0.1:$STACK_TEMPORAL_PORT, 7233), API_KEY (dev-demo-key), MODEL (ref-small),
 * MAX_TOKENS (8), N (30 per API).
 */
import { loadavg } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

const env = process.env;
const API = env.API ?? `http://127.0.0.1:${env.API_PORT ?? 8080}`;
const APIS = [
  ...(env.API_EAGER_OFF ? [{ label: 'eager off', url: env.API_EAGER_OFF }] : []),
  { label: env.API_EAGER_OFF ? 'eager on' : 'api', url: API },
];
const N = Number(env.N ?? 30);

type Event = temporal.api.history.v1.IHistoryEvent;
const ms = (e: Event | undefined): number =>
  e?.eventTime ? Number(e.eventTime.seconds) * 1000 + Math.round((e.eventTime.nanos ?? 0) / 1e6) : NaN;

/** The hops of one request, ms: from the POST to each event the server recorded. */
function hops(postAt: number, events: Event[]): Record<string, number> {
  const first = (k: keyof Event): Event | undefined => events.find((e) => e[k]);
  const started = ms(first('workflowExecutionStartedEventAttributes'));
  const wftStarted = ms(first('workflowTaskStartedEventAttributes'));
  const wftCompleted = ms(first('workflowTaskCompletedEventAttributes'));
  const actStarted = ms(first('activityTaskStartedEventAttributes'));
  const actCompleted = ms(first('activityTaskCompletedEventAttributes'));
  const done = ms(events[events.length - 1]);
  return {
    'POST -> workflow started': started - postAt,
    'started -> first task started': wftStarted - started,
    'first task run': wftCompleted - wftStarted,
    'task done -> GPU activity started': actStarted - wftCompleted,
    'model call (activity)': actCompleted - actStarted,
    'activity done -> workflow done': done - actCompleted,
    'POST -> model call starts': actStarted - postAt,
    events: events.length,
  };
}

const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? NaN;

async function main(): Promise<void> {
  const address = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.STACK_TEMPORAL_PORT ?? 7233}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' });
  console.log(
    `hops: ${APIS.map((a) => `${a.url} (${a.label})`).join(', ')}, ${N} requests each; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const runs: { label: string; postAt: number; id: string }[] = [];
  for (let i = -1; i < N; i++) {
    for (const a of APIS) {
      const postAt = Date.now();
      const res = await fetch(`${a.url}/v1/inference`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${env.API_KEY ?? 'dev-demo-key'}`,
          'content-type': 'application/json',
          prefer: 'wait=30',
        },
        body: JSON.stringify({
          model: env.MODEL ?? 'ref-small',
          prompt: `hops ${i}`,
          max_tokens: Number(env.MAX_TOKENS ?? 8),
        }),
      });
      const body = (await res.json()) as { id: string; status: string };
      if (body.status !== 'completed') throw new Error(`${a.url}: ${res.status} ${JSON.stringify(body)}`);
      if (i >= 0) runs.push({ label: a.label, postAt, id: body.id }); // i = -1 warms each API up
    }
  }
  const rows: Record<string, Record<string, number>> = {};
  for (const a of APIS) {
    const all = await Promise.all(
      runs
        .filter((r) => r.label === a.label)
        .map(async (r) =>
          hops(r.postAt, (await client.workflow.getHandle(r.id).fetchHistory()).events ?? []),
        ),
    );
    for (const k of Object.keys(all[0] ?? {})) {
      rows[`${k} p50`] = { ...rows[`${k} p50`], [a.label]: p50(all.map((h) => h[k]!)) };
      if (k !== 'events') rows[`${k} p90`] = { ...rows[`${k} p90`], [a.label]: p90(all.map((h) => h[k]!)) };
    }
  }
  console.table(rows);
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { answersOk, call, sleep } from './http';
import type { FaultKind } from './options';
import { GPU_WORKERS, type ChaosStack } from './stack';

/** One fault as injected, with how long the stack took to be ready again. */
export interface FaultRecord {
  kind: FaultKind;
  /** Epoch ms when it was injected. */
  at: number;
  detail: string;
  /** From the fault until every process answered /readyz 200 (and the model service /health). */
  readyMs: number | null;
  /** From the fault until the first completion of a request accepted after it (filled by the checks). */
  recoveryMs?: number | null;
}

/** Model-service fault scripts (PUT /_faults): served to the next model calls, one per call. */
const SCRIPTS: Partial<Record<FaultKind, unknown[]>> = {
  'model-5xx-burst': [
    { kind: 'status', status: 500, count: 6 },
    { kind: 'status', status: 503, retryAfterS: 1, count: 6 },
  ],
  'model-429': [{ kind: 'status', status: 429, retryAfterS: 2, count: 10 }],
  'model-hang': [{ kind: 'hang', count: 3 }],
  'model-drop': [{ kind: 'drop', count: 6 }],
};

let gpuTurn = 0;

/** Single process faults: the process, the signal, what it does. */
const KILLS: Partial<Record<FaultKind, [string, NodeJS.Signals, string]>> = {
  'orchestration-worker-kill': ['orchestration-worker', 'SIGKILL', 'SIGKILL'],
  'model-service-kill': ['model-service', 'SIGKILL', 'SIGKILL'],
  'api-kill': ['api', 'SIGKILL', 'SIGKILL'],
  'temporal-restart': ['temporal', 'SIGTERM', 'restart on the same SQLite file'],
  'redis-restart-empty': ['redis', 'SIGKILL', 'SIGKILL, restarted empty'],
  'postgres-restart': ['postgres', 'SIGINT', 'fast shutdown, restart'],
};

/**
 * Overlapping faults, injected at the same moment: both stores at once (Redis comes back empty and
 * its counters must be rebuilt from a ledger whose database is down too); Temporal restarting while
 * the orchestration worker and a GPU worker with model calls in flight are killed.
 */
const OVERLAPS: Partial<Record<FaultKind, FaultKind[]>> = {
  'redis-and-postgres-restart': ['redis-restart-empty', 'postgres-restart'],
  'temporal-restart-and-workers-kill': ['temporal-restart', 'orchestration-worker-kill', 'gpu-worker-kill'],
};

/** Waits (briefly) until the model service is generating for someone; how many calls are in flight. */
async function callsInFlight(s: ChaosStack): Promise<number> {
  let inFlight = 0;
  for (let i = 0; i < 50; i++) {
    const st = await call(s.modelUrl, 'GET', '/_stats').catch(() => undefined);
    inFlight = Number(st?.body?.in_flight ?? 0);
    if (inFlight > 0) break;
    await sleep(100);
  }
  return inFlight;
}

/** Kills the process(es) of one single fault; what was done. `inFlight`: calls seen before. */
async function kill(s: ChaosStack, kind: FaultKind, inFlight?: number): Promise<string> {
  if (kind === 'gpu-worker-kill') {
    const n = inFlight ?? (await callsInFlight(s));
    const name = GPU_WORKERS[gpuTurn++ % GPU_WORKERS.length]!;
    await s.supervisor.kill(name, 'SIGKILL');
    return `SIGKILL ${name} (model calls in flight: ${n})`;
  }
  const [name, signal, what] = KILLS[kind]!;
  await s.supervisor.kill(name, signal);
  return `${name}: ${what}`;
}

/** Injects `kind` into the stack; resolves once it is injected (the supervisor restarts what was killed). */
export async function inject(s: ChaosStack, kind: FaultKind): Promise<FaultRecord> {
  const at = Date.now();
  let detail = '';
  const script = SCRIPTS[kind];
  if (script) {
    const r = await call(s.modelUrl, 'PUT', '/_faults', { key: s.modelAdminToken, body: { script } });
    if (r.status !== 200) throw new Error(`PUT /_faults answered ${r.status}: ${JSON.stringify(r.body)}`);
    detail = JSON.stringify(script);
  } else if (OVERLAPS[kind]) {
    const parts = OVERLAPS[kind];
    // Mid-call, as the single GPU kill: wait for calls in flight before anything breaks.
    const inFlight = parts.includes('gpu-worker-kill') ? await callsInFlight(s) : undefined;
    detail = (await Promise.all(parts.map((p) => kill(s, p, inFlight)))).join(' + ');
  } else {
    detail = await kill(s, kind);
  }
  return { kind, at, detail, readyMs: await waitAllReady(s, at, 120_000) };
}

/** Waits until every process is ready; ms since `since`, or null after `timeoutMs`. */
export async function waitAllReady(s: ChaosStack, since: number, timeoutMs: number): Promise<number | null> {
  const urls = [...Object.values(s.ready).map((u) => `${u}/readyz`), `${s.modelUrl}/health`];
  const deadline = Date.now() + timeoutMs;
  // A killed process may still answer for a moment from its old socket: give it time to go.
  await sleep(300);
  while (Date.now() < deadline) {
    const ok = await Promise.all(urls.map((u) => answersOk(u)));
    if (ok.every(Boolean)) return Date.now() - since;
    await sleep(100);
  }
  return null;
}

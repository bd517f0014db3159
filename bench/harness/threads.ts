import { readdirSync, readFileSync } from 'node:fs';
import { statCpuMs } from './procs';

/** CPU ms so far of each thread of `pid`, by thread id, with the thread's name. */
export type ThreadCpu = Map<number, { name: string; ms: number }>;

/** Each thread's CPU time so far (user + system); empty when the process is gone. */
export function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(Number(tid), { name, ms: statCpuMs(`/proc/${pid}/task/${tid}/stat`) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export type ThreadKind = 'main' | 'workflow_thread' | 'v8_helpers' | 'rust_core' | 'other';

/**
 * Where a Node process running Temporal workers spent its CPU between two snapshots, ms: its main
 * thread; the busiest other thread named `node` (a worker's workflow thread,
 * where the workflow sandbox runs: node names its worker threads and V8's helper threads alike, so
 * the busiest is taken as the workflow thread); the other `node` threads (V8's GC and compiler
 * helpers); the Rust core's `tokio-*` threads; and the rest. Threads that ended between the
 * snapshots are not counted.
 */
export function threadSplit(pid: number, before: ThreadCpu, after: ThreadCpu): Record<ThreadKind, number> {
  const spent = [...after].map(([tid, t]) => ({ tid, name: t.name, ms: t.ms - (before.get(tid)?.ms ?? 0) }));
  const others = spent.filter((t) => t.tid !== pid && t.name === 'node').sort((a, b) => b.ms - a.ms);
  const sum = (ts: { ms: number }[]): number => ts.reduce((n, t) => n + t.ms, 0);
  return {
    main: sum(spent.filter((t) => t.tid === pid)),
    workflow_thread: others[0]?.ms ?? 0,
    v8_helpers: sum(others.slice(1)),
    rust_core: sum(spent.filter((t) => t.name.startsWith('tokio'))),
    other: sum(spent.filter((t) => t.tid !== pid && t.name !== 'node' && !t.name.startsWith('tokio'))),
  };
}

/** Sums splits of several windows and divides by their requests: ms per request, 2 decimals. */
export function splitPerRequest(
  splits: readonly Record<ThreadKind, number>[],
  requests: number,
): Record<ThreadKind | 'total', number> {
  const kinds: ThreadKind[] = ['main', 'workflow_thread', 'v8_helpers', 'rust_core', 'other'];
  const per = (ms: number): number => Math.round((ms / Math.max(1, requests)) * 100) / 100;
  const sums = kinds.map((k) => [k, splits.reduce((n, s) => n + s[k], 0)] as const);
  return {
    ...(Object.fromEntries(sums.map(([k, v]) => [k, per(v)])) as Record<ThreadKind, number>),
    total: per(sums.reduce((n, [, v]) => n + v, 0)),
  };
}

import type { ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';

/**
 * The local stack's processes by what they need from a shared machine. `interactive`: on the path of
 * an answer a client waits for (the API; PostgreSQL and Redis, on the same path, keep their
 * priority). `background`: work a client waits for only as throughput (the Temporal server, the
 * workers, the model service, the codec server), which runs at a lower CPU priority so that on a
 * saturated machine an accept or a status read does not queue behind it. The work is the same; only
 * who gets a free core first changes (docs/benchmarks.md, "CPU priority on one machine").
 */
export type StackRole = 'interactive' | 'background';

/**
 * Lowers a background process's CPU priority to niceness `nice` (0-19; a process already lower, as
 * under a niced `npm start`, stays as it is: raising a priority would need privilege). Returns the
 * niceness the process has after the call, or undefined when it is already gone.
 */
export function applyStackPriority(proc: ChildProcess, role: StackRole, nice: number): number | undefined {
  if (proc.pid === undefined) return undefined;
  try {
    if (role === 'background' && nice > getPriority(proc.pid)) setPriority(proc.pid, nice);
    return getPriority(proc.pid);
  } catch {
    return undefined; // exited before we got to it: its exit is reported where it is watched
  }
}

import type { ChildProcess } from 'node:child_process';

/** True once `proc` has exited, by an exit code or by a signal (which leaves no exit code). */
export const hasExited = (proc: ChildProcess): boolean => proc.exitCode !== null || proc.signalCode !== null;

/**
 * Resolves once `proc` has exited; at once when it has already, by an exit code or by a signal (a
 * child killed by a signal has no exit code, and its 'exit' event has been emitted already).
 */
export function exitOf(proc: ChildProcess): Promise<void> {
  if (hasExited(proc)) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

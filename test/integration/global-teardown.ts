import type { ChildProcess } from 'node:child_process';

export default async function globalTeardown(): Promise<void> {
  const proc = (globalThis as { __temporal?: ChildProcess }).__temporal;
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

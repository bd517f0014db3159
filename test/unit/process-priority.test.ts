import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority } from 'node:os';
import { applyStackPriority } from '../../dev/stack/process-priority';

describe('applyStackPriority', () => {
  const procs: ChildProcess[] = [];
  const child = (): ChildProcess => {
    const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  afterAll(() => procs.forEach((p) => p.kill('SIGKILL')));
  // Children start at this process's niceness (0 unless the test run itself was niced).
  const inherited = getPriority();

  it('runs a background process at the given niceness, as the OS reports it', () => {
    const p = child();
    expect(applyStackPriority(p, 'background', 10)).toBe(Math.max(10, inherited));
  });

  it('leaves interactive processes, and background ones when the niceness is 0, at the parent’s priority', () => {
    expect(applyStackPriority(child(), 'interactive', 10)).toBe(inherited);
    expect(applyStackPriority(child(), 'background', 0)).toBe(inherited);
  });

  it('answers undefined for a process that is gone instead of throwing', async () => {
    const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => p.once('exit', r));
    await new Promise((r) => setTimeout(r, 50));
    expect(applyStackPriority(p, 'background', 10)).toBeUndefined();
  });
});

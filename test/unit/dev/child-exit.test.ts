import { spawn } from 'node:child_process';
import { exitOf } from '../../../dev/stack/child-exit';

test('a child killed by a signal counts as exited, so a shutdown waiting for it goes on', async () => {
  const child = spawn('sleep', ['30']);
  await new Promise((r) => child.once('spawn', r));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  // No exit code after a signal: the check the stack used before waited for a second 'exit'.
  expect(child.exitCode).toBeNull();
  expect(child.signalCode).toBe('SIGKILL');
  await expect(
    Promise.race([exitOf(child).then(() => 'done'), new Promise((r) => setTimeout(r, 500, 'hung'))]),
  ).resolves.toBe('done');
});

test('a running child is waited for until it exits', async () => {
  const child = spawn('sleep', ['0.2']);
  let done = false;
  const waiting = exitOf(child).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 50));
  expect(done).toBe(false);
  await waiting;
  expect(child.exitCode).toBe(0);
});

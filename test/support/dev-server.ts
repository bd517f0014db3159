import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { devServerArgs, waitForTemporal } from '../../src/dev/temporal-dev-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Temporal dev server (in-memory, headless) with the project's search attributes and fairness on. */
export async function startDevServer(cli: string): Promise<{ address: string; proc: ChildProcess }> {
  const port = await freePort();
  const args = devServerArgs({ dataDir: '', port, uiPort: 0 }).filter(
    (a, i, all) =>
      !['--db-filename', '--ui-port'].includes(a) &&
      !['--db-filename', '--ui-port'].includes(all[i - 1] ?? ''),
  );
  const proc = spawn(cli, [...args, '--headless'], { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  await waitForTemporal(address, 60_000, proc);
  return { address, proc };
}

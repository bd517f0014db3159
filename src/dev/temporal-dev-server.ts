import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../shared/search-attributes';

/** Options for {@link startTemporalDevServer}. */
export interface DevServerOptions {
  /** Path of the `temporal` CLI. */
  cli: string;
  /** Folder for the SQLite file and the log. */
  dataDir: string;
  /** gRPC port. @default 7233 */
  port?: number;
  /** Web UI port. @default 8233 */
  uiPort?: number;
}

/** Dynamic config the dev server needs: fairness keys on task queues (priority works by default). */
export const DEV_SERVER_DYNAMIC_CONFIG = ['matching.enableFairness=true'];

/** Arguments of `temporal server start-dev` for this project. */
export function devServerArgs(opts: Required<Omit<DevServerOptions, 'cli'>>): string[] {
  return [
    'server',
    'start-dev',
    '--db-filename',
    join(opts.dataDir, 'temporal.sqlite'),
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--ip',
    '127.0.0.1',
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS).flatMap(([k, t]) => [
      '--search-attribute',
      `${k}=${t}`,
    ]),
    ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((kv) => ['--dynamic-config-value', kv]),
  ];
}

/** Resolves once the frontend at `address` answers, or rejects after `timeoutMs`. */
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      return;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `Temporal at ${address} did not answer within ${timeoutMs} ms: ${(lastErr as Error)?.message}`,
  );
}

/** Starts `temporal server start-dev` on a SQLite file, so workflows survive a restart. */
export function startTemporalDevServer(opts: DevServerOptions): ChildProcess {
  mkdirSync(opts.dataDir, { recursive: true });
  const log = createWriteStream(join(opts.dataDir, 'temporal.log'), { flags: 'a' });
  const child = spawn(
    opts.cli,
    devServerArgs({ dataDir: opts.dataDir, port: opts.port ?? 7233, uiPort: opts.uiPort ?? 8233 }),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts } from '../../dev/stack/free-port';
import { devServerArgs, waitForTemporal } from '../../dev/stack/temporal-dev-server';
import { redisAnswers, redisServerArgs } from '../../dev/stack/local-services';

/** A dependency this test owns and may stop, start and restart (never the shared ones). */
export interface PrivateService {
  /** Connection string (PostgreSQL, Redis) or host:port (Temporal). */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** initdb refuses to run as root: run PostgreSQL's tools as the `postgres` user then. */
function pgTool(tool: string, args: string[]): void {
  const cmd = join(PG_BIN, tool);
  const asRoot = process.getuid?.() === 0;
  execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** A private PostgreSQL cluster in a temporary folder on a free port. */
export async function startPrivatePostgres(): Promise<PrivateService> {
  const dir = mkdtempSync(join(tmpdir(), 'restarts-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]);
  const port = await freePort();
  pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres']);
  const ctl = (...args: string[]): void =>
    pgTool('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      '-w',
      ...args,
    ]);
  ctl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/inference`,
    start: async () => ctl('start'),
    // Fast shutdown: connected clients get 57P01 and their connections close, as in a real restart.
    stop: async () => ctl('-m', 'fast', 'stop'),
    destroy: async () => {
      try {
        ctl('-m', 'immediate', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function exited(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  await done;
}

/** A private, memory-only redis-server on a free port (it restarts empty, like a cache). */
export async function startPrivateRedis(): Promise<PrivateService> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    proc = spawn('redis-server', redisServerArgs(port), { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await redisAnswers(url))) throw new Error(`private redis on ${port} does not answer`);
  };
  await start();
  const stop = async (): Promise<void> => {
    if (proc) await exited(proc);
  };
  return { url, start, stop, destroy: stop };
}

/** A private Temporal dev server on a SQLite file, so a restart keeps its workflows. */
export async function startPrivateTemporal(cli: string): Promise<PrivateService> {
  const dir = mkdtempSync(join(tmpdir(), 'restarts-temporal-'));
  const [port, uiPort] = await freePorts(2);
  const address = `127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    proc = spawn(cli, devServerArgs({ port, uiPort, dataDir: dir }), { stdio: 'ignore' });
    await waitForTemporal(address, 60_000, proc);
  };
  await start();
  const stop = async (): Promise<void> => {
    if (proc) await exited(proc);
  };
  return {
    url: address,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

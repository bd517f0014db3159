import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { bindable, pickRange } from '../../dev/stack/free-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';

const run = promisify(execFile);

/** A throwaway Redis Cluster of real `redis-server` processes on random local ports. */
export interface LocalRedisCluster {
  /** Ports of the master nodes. */
  ports: number[];
  /** A new cluster client; the caller quits it. */
  connect(): Cluster;
  /** Port of the node that serves `key`'s slot. */
  nodeOf(key: string): Promise<number>;
  /** Stops every node (awaits their exit) and removes the temp directory. */
  stop(): Promise<void>;
}

/**
 * Throws, with install advice, when `redis-server`/`redis-cli` are not on PATH or are older than 7:
 * a test that needs a cluster must fail loudly on such a machine, never skip.
 */
export function requireRedisServer(): void {
  const server = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const cli = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' });
  if (server.status !== 0 || cli.status !== 0) {
    throw new Error(
      'redis-server and redis-cli (7 or later) must be on PATH to start a local Redis Cluster.\n' +
        'Install them (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis).',
    );
  }
  const major = Number(/v=(\d+)\./.exec(server.stdout)?.[1] ?? 0);
  if (major < 7) throw new Error(`redis-server 7 or later needed for cluster tests, found: ${server.stdout}`);
}

/** A random port P with P and its cluster bus port P + 10000 both free, both outside the ephemeral range. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  const [from, to] = pickRange();
  for (;;) {
    const p = from + Math.floor(Math.random() * (to - 10000 - from));
    if (taken.has(p) || taken.has(p + 10000)) continue;
    if ((await bindable(p)) && (await bindable(p + 10000))) return p;
  }
}

interface Node {
  port: number;
  proc: ChildProcess;
  log: () => string;
}

function startNode(dir: string, port: number): Node {
  const proc = spawn(
    'redis-server',
    [
      '--cluster-enabled',
      'yes',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-4000));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return { port, proc, log: () => out };
}

async function stopNode(n: Node): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
  const exited = new Promise((r) => n.proc.once('exit', r));
  n.proc.kill('SIGTERM');
  const timer = setTimeout(() => n.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function info(port: number, section: 'cluster info' | 'ping'): Promise<string> {
  const r = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return section === 'ping' ? await r.ping() : String(await r.cluster('INFO'));
  } finally {
    r.disconnect();
  }
}

/**
 * Starts `nodes` redis-server processes with cluster mode on, joins them with
 * `redis-cli --cluster create` (no replicas) and waits until every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(nodes = 3): Promise<LocalRedisCluster> {
  requireRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const started: Node[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(stopNode));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < nodes; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port).add(port + 10000);
      started.push(startNode(dir, port));
    }
    for (const n of started) {
      await until(`redis-server on port ${n.port}`, async () => {
        if (n.proc.exitCode !== null) throw new Error(`redis-server exited early:\n${n.log()}`);
        return (await info(n.port, 'ping')) === 'PONG';
      });
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...started.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    for (const n of started) {
      await until(`cluster_state:ok on port ${n.port}`, async () =>
        (await info(n.port, 'cluster info')).includes('cluster_state:ok'),
      );
    }
  } catch (err) {
    const logs = started.map((n) => `--- redis-server :${n.port}\n${n.log()}`).join('\n');
    await stop();
    throw new Error(`could not start a local Redis Cluster: ${String(err)}\n${logs}`);
  }
  const ports = started.map((n) => n.port);
  const connect = (): Cluster =>
    new Cluster(
      ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
  return {
    ports,
    connect,
    async nodeOf(key) {
      const r = new Redis(ports[0]!, '127.0.0.1');
      try {
        const slot = Number(await r.cluster('KEYSLOT', key));
        const ranges = (await r.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`slot ${slot} of ${key} is not served`);
        return range[2][1];
      } finally {
        await r.quit();
      }
    },
    stop,
  };
}

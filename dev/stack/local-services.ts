import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Client } from 'pg';
import { Redis } from 'ioredis';

/** True when PostgreSQL answers at the URL's server (the database itself may not exist yet). */
export async function postgresAnswers(url: string): Promise<boolean> {
  const u = new URL(url);
  u.pathname = '/postgres';
  const c = new Client({ connectionString: u.toString(), connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    await c.end().catch(() => undefined);
    return false;
  }
}

export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Arguments of a memory-only redis-server on `port`: nothing is saved, so a restart is an empty Redis. */
export function redisServerArgs(port: number | string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
}

const isLocal = (url: string): boolean => ['127.0.0.1', 'localhost', '::1'].includes(new URL(url).hostname);

/** Starts `redis-server` from PATH on the URL's port, keeping nothing on disk. Throws with install advice. */
export function startLocalRedis(url: string, dataDir: string): ChildProcess {
  if (!isLocal(url)) throw new Error(`Redis at ${url} does not answer; start it or fix REDIS_URL.`);
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      `Redis does not answer at ${url} and redis-server is not installed.\n` +
        `Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const port = new URL(url).port || '6379';
  const child = spawn('redis-server', [...redisServerArgs(port), '--dir', dataDir], { stdio: 'ignore' });
  return child;
}

/** Advice printed when PostgreSQL does not answer. */
export function postgresAdvice(url: string): string {
  const u = new URL(url);
  return (
    `PostgreSQL does not answer at ${u.hostname}:${u.port || 5432}.\n` +
    `Start one, e.g.:\n` +
    `  Debian/Ubuntu: sudo apt-get install postgresql && sudo pg_ctlcluster $(ls /etc/postgresql) main start\n` +
    `  macOS:         brew install postgresql@16 && brew services start postgresql@16\n` +
    `or point DATABASE_URL at a server (the user must be able to CREATE DATABASE, or the database must exist).`
  );
}

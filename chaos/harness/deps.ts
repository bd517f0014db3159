import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { postgresAnswers, redisAnswers, redisServerArgs } from '../../dev/stack/local-services';
import { devServerArgs, temporalAnswers } from '../../dev/stack/temporal-dev-server';
import type { ServiceSpec } from './supervisor';

/** PostgreSQL refuses to run as root: its tools run as the `postgres` user then. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

/** A private PostgreSQL cluster in `dir` (initdb'd here), run in the foreground so it can be supervised. */
export function postgresSpec(pgBin: string, dir: string, port: number): ServiceSpec & { url: string } {
  const user = postgresUser();
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  execFileSync(join(pgBin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user ?? {}),
  });
  const url = `postgres://postgres@127.0.0.1:${port}/inference`;
  return {
    name: 'postgres',
    command: join(pgBin, 'postgres'),
    args: ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'],
    ...(user ?? {}),
    // SIGINT is PostgreSQL's fast shutdown: clients get 57P01 and their connections close.
    stopSignal: 'SIGINT',
    ready: () => postgresAnswers(url),
    url,
  };
}

/** A private, memory-only redis-server: every restart is an empty Redis. */
export function redisSpec(port: number): ServiceSpec & { url: string } {
  const url = `redis://127.0.0.1:${port}`;
  return {
    name: 'redis',
    command: 'redis-server',
    args: redisServerArgs(port),
    ready: () => redisAnswers(url),
    url,
  };
}

/** A private Temporal dev server on a SQLite file in `dir`, so a restart keeps its workflows. */
export function temporalSpec(
  cli: string,
  dir: string,
  port: number,
  uiPort: number,
): ServiceSpec & { address: string } {
  mkdirSync(dir, { recursive: true });
  const address = `127.0.0.1:${port}`;
  return {
    name: 'temporal',
    command: cli,
    args: devServerArgs({ port, uiPort, dataDir: dir }),
    ready: () => temporalAnswers(address),
    address,
  };
}

import { Gauge, Registry } from 'prom-client';
import { toAppError } from '../../src/api/error-middleware';
import { DependencyMonitor } from '../../src/observability/dependency-monitor';
import { readiness } from '../../src/observability/readiness';

function monitor() {
  const registry = new Registry();
  const gauge = new Gauge({
    name: 'dependency_up',
    help: 'h',
    labelNames: ['dependency'],
    registers: [registry],
  });
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const log =
    (level: string) =>
    (obj: Record<string, unknown>, msg: string): void =>
      void lines.push({ level, msg, obj });
  const logger = { error: log('error'), warn: log('warn'), info: log('info') } as never;
  const m = new DependencyMonitor({ gauge, logger, timeoutMs: 50 });
  const value = async (dep: string): Promise<number | undefined> =>
    (await gauge.get()).values.find((v) => v.labels.dependency === dep)?.value;
  return { m, lines, value };
}

test('logs each transition once however often the client reports, and the gauge follows', async () => {
  const { m, lines, value } = monitor();
  m.report('redis', true);
  expect(await value('redis')).toBe(1);
  for (let i = 0; i < 5; i++) m.report('redis', false, new Error('connect ECONNREFUSED'));
  expect(await value('redis')).toBe(0);
  expect(m.isUp('redis')).toBe(false);
  m.report('redis', true);
  m.report('redis', true);
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    ['error', 'dependency down: redis'],
    ['warn', 'dependency up: redis'],
  ]);
  expect(lines[0]!.obj).toMatchObject({ dependency: 'redis', err: 'connect ECONNREFUSED' });
  expect(lines[1]!.obj.downForMs).toEqual(expect.any(Number));
});

test('watched checks report their outcome; a hung one counts as down after the timeout', async () => {
  const { m, lines, value } = monitor();
  let pgUp = true;
  const checks = m.watch([
    { name: 'postgres', check: async () => (pgUp ? 1 : Promise.reject(new Error('ECONNREFUSED'))) },
    { name: 'temporal', check: () => new Promise(() => undefined) },
  ]);
  expect(await readiness(checks, 1000)).toEqual({
    status: 'not_ready',
    checks: { postgres: { status: 'ok' }, temporal: { status: 'down' } },
  });
  expect(await value('temporal')).toBe(0);
  pgUp = false;
  expect((await readiness(checks, 1000)).checks.postgres).toEqual({ status: 'down' });
  expect(lines.map((l) => l.msg)).toEqual(['dependency down: temporal', 'dependency down: postgres']);
  // Why is in the log line, not in /readyz.
  expect(lines.map((l) => l.obj.err)).toEqual(['timeout after 50 ms', 'ECONNREFUSED']);
});

test('outage errors of ioredis (offline queue off) and Temporal (gRPC UNAVAILABLE) are 503', () => {
  const redisDown = new Error("Stream isn't writeable and enableOfflineQueue options is false");
  expect(toAppError(redisDown)).toMatchObject({ type: 'service_unavailable', retryAfterS: 1 });
  const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
  const wrapped = Object.assign(new Error('Failed to start Workflow'), { name: 'ServiceError', cause: grpc });
  expect(toAppError(wrapped).type).toBe('service_unavailable');
  expect(toAppError(grpc).type).toBe('service_unavailable');
  const pgBroken = new Error('Client has encountered a connection error and is not queryable');
  expect(toAppError(pgBroken).type).toBe('service_unavailable');
  expect(toAppError(Object.assign(new Error('x'), { code: 3 })).type).toBe('internal_error');
});

test('a probe that started before a transition cannot report over it', () => {
  const { m, lines } = monitor();
  const probeStart = Date.now() - 10;
  m.report('postgres', false, new Error('terminating connection due to administrator command'));
  m.report('postgres', true, undefined, probeStart);
  expect(m.isUp('postgres')).toBe(false);
  expect(lines.map((l) => l.msg)).toEqual(['dependency down: postgres']);
});

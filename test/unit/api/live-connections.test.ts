import type { Request } from 'express';
import { Registry } from 'prom-client';
import { authMetrics } from '../../../src/api/auth-metrics';
import { ApiKeyCache } from '../../../src/api/key-cache';
import { keyCacheMetrics } from '../../../src/api/key-cache-metrics';
import { applyInvalidation } from '../../../src/api/key-invalidation';
import { LiveConnections } from '../../../src/api/live-connections';
import { AppError } from '../../../src/errors/app-error';
import { createLogger } from '../../../src/observability/logger';

const logger = createLogger({ component: 'live-test', level: 'silent' });
const req = (tenant: string, key: string, expiresAt: Date | null = null): Request =>
  ({ tenant: { id: tenant }, apiKey: { id: key, expiresAt } }) as unknown as Request;

function setup() {
  const registry = new Registry();
  const metrics = authMetrics(registry);
  const live = new LiveConnections({ metrics, logger });
  const targets = {
    cache: new ApiKeyCache({ ttlS: 300 }),
    live,
    metrics: keyCacheMetrics(registry),
    logger,
  };
  return { live, metrics, targets };
}

test('a revoke ends only its key’s streams and waits; a disable ends the tenant’s; other changes none', async () => {
  const { live, metrics, targets } = setup();
  const k1 = live.hold(req('t', 'k1'), 'sse');
  const k1wait = live.hold(req('t', 'k1'), 'wait');
  const k2 = live.hold(req('t', 'k2'), 'openai_stream');
  const other = live.hold(req('u', 'k3'), 'sse');

  applyInvalidation({ tenant: 't' }, targets); // limits or tier changed: nothing ends
  applyInvalidation({ tenant: 't', key: 'k2' }, targets); // a message without effect: nothing ends
  expect([k1, k1wait, k2, other].some((h) => h.signal.aborted)).toBe(false);

  applyInvalidation({ tenant: 't', key: 'k1', effect: 'revoke' }, targets);
  expect(k1.signal.aborted && k1wait.signal.aborted).toBe(true);
  expect(k2.signal.aborted || other.signal.aborted).toBe(false);
  expect(k1.signal.reason).toBeInstanceOf(AppError);
  expect((k1.signal.reason as AppError).type).toBe('authentication_error');

  applyInvalidation({ tenant: 't', effect: 'disable' }, targets);
  expect(k2.signal.aborted).toBe(true);
  expect((k2.signal.reason as AppError).type).toBe('permission_error');
  expect(other.signal.aborted).toBe(false);
  other.release();
  expect(live.size).toBe(0);
  const closed = (await metrics.connectionsClosed.get()).values;
  expect(closed.map((v) => [v.labels.kind, v.labels.reason, v.value]).sort()).toEqual([
    ['openai_stream', 'tenant_disabled', 1],
    ['sse', 'key_revoked', 1],
    ['wait', 'key_revoked', 1],
  ]);
});

test('a released stream is not ended, and a rotated key’s streams end at its end of grace', async () => {
  const { live } = setup();
  const done = live.hold(req('t', 'k'), 'sse');
  done.release();
  expect(live.end('t', 'k', 'key_revoked')).toBe(0);
  const grace = live.hold(req('t', 'old', new Date(Date.now() + 30)), 'sse');
  expect(grace.signal.aborted).toBe(false);
  await new Promise((r) => setTimeout(r, 60));
  expect(grace.signal.aborted).toBe(true);
  expect((grace.signal.reason as AppError).message).toMatch(/expired/);
});

test('a key rotated with a grace period: the streams it opened before the rotation end when the grace does', async () => {
  const { live, targets } = setup();
  const before = live.hold(req('t', 'old'), 'sse'); // opened before the rotation: no known end
  const other = live.hold(req('t', 'new'), 'sse');
  applyInvalidation({ tenant: 't', key: 'old', effect: 'expire', until: Date.now() + 40 }, targets);
  expect(before.signal.aborted).toBe(false);
  await new Promise((r) => setTimeout(r, 80));
  expect(before.signal.aborted).toBe(true);
  expect((before.signal.reason as AppError).type).toBe('authentication_error');
  expect(other.signal.aborted).toBe(false);
  other.release();
});

import { ConfigError, loadConfig } from '../../src/config/load-config';

const load = (env: Record<string, string>): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

/** The variables the configuration names when it refuses `env` (it must refuse it). */
function refused(env: Record<string, string>): string[] {
  expect(() => load(env)).toThrow(ConfigError);
  try {
    load(env);
  } catch (err) {
    return (err as ConfigError).issues.map((i) => i.variable);
  }
  return [];
}

test('the request deadline defaults to one hour, under the reservation TTL', () => {
  const cfg = load({});
  expect(cfg.REQUEST_DEADLINE_S).toBe(3600);
  expect(cfg.QUOTA_RESERVATION_TTL_S).toBeGreaterThan(cfg.REQUEST_DEADLINE_S);
});

test.each([
  [{ REQUEST_DEADLINE_S: '7200' }],
  [{ QUOTA_RESERVATION_TTL_S: '3600' }],
  [{ REQUEST_DEADLINE_S: '600', QUOTA_RESERVATION_TTL_S: '1200' }],
])('a reservation TTL that a request could outlive is refused: %j', (env) => {
  expect(refused(env)).toContain('QUOTA_RESERVATION_TTL_S');
});

test('a reservation TTL beyond deadline + margin is accepted', () => {
  expect(load({ REQUEST_DEADLINE_S: '600', QUOTA_RESERVATION_TTL_S: '1201' }).REQUEST_DEADLINE_S).toBe(600);
});

test('reservation records are kept a day by default, as long as an idempotency key', () => {
  const cfg = load({});
  expect(cfg.QUOTA_RECORD_RETENTION_S).toBe(86_400);
  expect(cfg.QUOTA_RECORD_RETENTION_S).toBeGreaterThanOrEqual(cfg.IDEMPOTENCY_TTL_S);
});

test.each([
  [{ QUOTA_RECORD_RETENTION_S: '3600' }],
  [{ IDEMPOTENCY_TTL_S: '172800' }],
  [{ IDEMPOTENCY_TTL_S: '172800', QUOTA_RECORD_RETENTION_S: '100000' }],
])('a record retention shorter than the idempotency key TTL is refused: %j', (env) => {
  expect(refused(env)).toContain('QUOTA_RECORD_RETENTION_S');
});

test('a record retention at least the key TTL is accepted', () => {
  expect(
    load({ IDEMPOTENCY_TTL_S: '172800', QUOTA_RECORD_RETENTION_S: '172800' }).QUOTA_RECORD_RETENTION_S,
  ).toBe(172_800);
});

import { ConfigError, loadConfig } from '../../src/config/load-config';

const load = (env: Record<string, string>): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

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
  expect(() => load(env)).toThrow(ConfigError);
  try {
    load(env);
  } catch (err) {
    expect((err as ConfigError).issues.map((i) => i.variable)).toContain('QUOTA_RESERVATION_TTL_S');
  }
});

test('a reservation TTL beyond deadline + margin is accepted', () => {
  expect(load({ REQUEST_DEADLINE_S: '600', QUOTA_RESERVATION_TTL_S: '1201' }).REQUEST_DEADLINE_S).toBe(600);
});

import { ConfigError, loadConfig } from '../../src/config/load-config';

/** A development environment: the development defaults of the secrets apply. */
const dev = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });
/** A production environment with a valid admin token. */
const STRONG_TOKEN = 'a3f9c1e07b5d4e2f8a6c9b0d1e2f3a4b5c6d7e8f'; // 40 characters
const prod = (env: Record<string, string | undefined> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'production', ADMIN_TOKEN: STRONG_TOKEN, ...env });

/** The variables a ConfigError names, or [] when the environment is valid. */
function invalidVariables(load: () => unknown): string[] {
  try {
    load();
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.variable).sort();
  }
}

test('development defaults apply on a development environment', () => {
  const cfg = dev();
  expect(cfg.APP_ENV).toBe('development');
  expect(cfg.API_PORT).toBe(8080);
  expect(cfg.DEV_API_KEY).toBe('dev-demo-key');
  expect(cfg.ADMIN_TOKEN).toBe('dev-admin-token');
  expect(cfg.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/inference');
  expect(cfg.TEMPORAL_ADDRESS).toBeUndefined();
});

test('development accepts its own secrets, placeholders and short tokens, and keeps a DEV_API_KEY', () => {
  expect(dev({ ADMIN_TOKEN: 'change-me-admin', DEV_API_KEY: 'my-demo-key' })).toMatchObject({
    ADMIN_TOKEN: 'change-me-admin',
    DEV_API_KEY: 'my-demo-key',
  });
});

test('production is the default: an empty environment is refused, naming ADMIN_TOKEN', () => {
  expect(() => loadConfig({})).toThrow(/ADMIN_TOKEN: is unset or the development default/);
  expect(invalidVariables(() => loadConfig({}))).toEqual(['ADMIN_TOKEN']);
});

test('production with a strong admin token: valid, no demo tenant key', () => {
  const cfg = prod();
  expect(cfg.APP_ENV).toBe('production');
  expect(cfg.ADMIN_TOKEN).toBe(STRONG_TOKEN);
  expect(cfg.DEV_API_KEY).toBeUndefined();
  expect(prod({ ADMIN_TOKEN: 'x'.repeat(32) }).ADMIN_TOKEN).toHaveLength(32);
});

test.each([
  ['the development default', 'dev-admin-token', /ADMIN_TOKEN: is unset or the development default/],
  ['the demo key', 'dev-demo-key', /ADMIN_TOKEN: is a development default or a template placeholder/],
  [
    'a change-me placeholder',
    'change-me-admin-token-0123456789abcdef',
    /ADMIN_TOKEN: is a development default or a template placeholder/,
  ],
  [
    'an upper-case placeholder',
    'CHANGE-ME-admin-token-0123456789abcdef',
    /ADMIN_TOKEN: is a development default or a template placeholder/,
  ],
  ['a 31-character token', 'x'.repeat(31), /ADMIN_TOKEN: must be at least 32 characters/],
])('production refuses %s as ADMIN_TOKEN', (_name, token, message) => {
  expect(() => prod({ ADMIN_TOKEN: token })).toThrow(message);
  expect(invalidVariables(() => prod({ ADMIN_TOKEN: token }))).toEqual(['ADMIN_TOKEN']);
});

test('production refuses any DEV_API_KEY, even a strong one: no demo tenant outside development', () => {
  for (const key of ['dev-demo-key', 'sk-0123456789abcdef0123456789abcdef']) {
    expect(() => prod({ DEV_API_KEY: key })).toThrow(/DEV_API_KEY: must be unset when APP_ENV=production/);
    expect(invalidVariables(() => prod({ DEV_API_KEY: key }))).toEqual(['DEV_API_KEY']);
  }
  // Empty means unset, as for every variable.
  expect(prod({ DEV_API_KEY: '' }).DEV_API_KEY).toBeUndefined();
});

test('the defaults of both secrets together name both variables', () => {
  expect(invalidVariables(() => loadConfig({ DEV_API_KEY: 'dev-demo-key' }))).toEqual([
    'ADMIN_TOKEN',
    'DEV_API_KEY',
  ]);
});

test('APP_ENV takes development or production only', () => {
  expect(invalidVariables(() => loadConfig({ APP_ENV: 'staging', ADMIN_TOKEN: STRONG_TOKEN }))).toEqual([
    'APP_ENV',
  ]);
});

test('numbers and booleans are coerced; "false" is false', () => {
  const cfg = dev({ API_PORT: '9000', WEBHOOK_ALLOW_PRIVATE: 'false', DATABASE_POOL_SIZE: '4' });
  expect(cfg.API_PORT).toBe(9000);
  expect(cfg.WEBHOOK_ALLOW_PRIVATE).toBe(false);
  expect(cfg.DATABASE_POOL_SIZE).toBe(4);
});

test('empty strings mean unset', () => {
  expect(dev({ API_PORT: '', TEMPORAL_ADDRESS: '' }).API_PORT).toBe(8080);
});

test('every invalid variable is named', () => {
  expect(
    invalidVariables(() =>
      dev({ API_PORT: 'eighty', REDIS_URL: 'not a url', WEBHOOK_ALLOW_PRIVATE: 'maybe' }),
    ),
  ).toEqual(['API_PORT', 'REDIS_URL', 'WEBHOOK_ALLOW_PRIVATE']);
});

test('cross-field rules: metrics ports differ', () => {
  expect(() => dev({ ORCHESTRATION_METRICS_PORT: '9000', GPU_METRICS_PORT: '9000' })).toThrow(
    /GPU_METRICS_PORT/,
  );
});

test('REDIS_CLUSTER_NODES: unset means one server; host:port pairs are parsed; anything else is named', () => {
  expect(dev().REDIS_CLUSTER_NODES).toBeUndefined();
  expect(dev({ REDIS_CLUSTER_NODES: '' }).REDIS_CLUSTER_NODES).toBeUndefined();
  expect(dev({ REDIS_CLUSTER_NODES: 'redis-0:6379, 10.0.0.2:7001' }).REDIS_CLUSTER_NODES).toEqual([
    { host: 'redis-0', port: 6379 },
    { host: '10.0.0.2', port: 7001 },
  ]);
  for (const bad of [
    'redis-0',
    'redis-0:',
    'redis-0:6379,',
    'redis-0:70000',
    'redis://redis-0:6379',
    'a:1,b',
  ])
    expect(invalidVariables(() => dev({ REDIS_CLUSTER_NODES: bad }))).toEqual(['REDIS_CLUSTER_NODES']);
});

test('batch bounds and caps: defaults, overrides, and refusals of non-positive values', () => {
  expect(dev()).toMatchObject({
    BATCH_MAX_ITEM_BYTES: 2_097_152,
    BATCH_MAX_CONCURRENT_UPLOADS: 4,
    BATCH_MAX_CONCURRENT_UPLOADS_PER_TENANT: 1,
    BATCH_TENANT_MAX_IN_FLIGHT: 100,
    BATCH_TENANT_MAX_ITEMS_IN_FLIGHT: 100_000,
    BATCH_TENANT_MAX_ENQUEUED_TOKENS: 100_000_000,
  });
  expect(dev({ BATCH_TENANT_MAX_ENQUEUED_TOKENS: '5000', BATCH_MAX_CONCURRENT_UPLOADS: '2' })).toMatchObject({
    BATCH_TENANT_MAX_ENQUEUED_TOKENS: 5000,
    BATCH_MAX_CONCURRENT_UPLOADS: 2,
  });
  expect(
    invalidVariables(() => dev({ BATCH_MAX_ITEM_BYTES: '0', BATCH_TENANT_MAX_IN_FLIGHT: '-1' })),
  ).toEqual(['BATCH_MAX_ITEM_BYTES', 'BATCH_TENANT_MAX_IN_FLIGHT']);
});

test('eager workflow start is on by default; API_EAGER_START=false turns it off; its worker is bounded', () => {
  expect(dev()).toMatchObject({
    API_EAGER_START: true,
    API_WORKER_MAX_TASKS: 10,
    API_WORKER_MAX_CACHED: 100,
  });
  expect(dev({ API_EAGER_START: 'false' }).API_EAGER_START).toBe(false);
  expect(dev({ API_EAGER_START: 'off' }).API_EAGER_START).toBe(false);
  // Its two pollers hold 4 slots: fewer than 6 would leave eager starts too few to be worth it.
  expect(invalidVariables(() => dev({ API_WORKER_MAX_TASKS: '4' }))).toEqual(['API_WORKER_MAX_TASKS']);
  expect(invalidVariables(() => dev({ API_EAGER_START: 'maybe' }))).toEqual(['API_EAGER_START']);
});

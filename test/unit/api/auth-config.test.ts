import { ConfigError, loadConfig } from '../../../src/config/load-config';

const dev = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

/** The variables a ConfigError names, or [] when the environment is valid. */
function invalidVariables(env: Record<string, string>): string[] {
  try {
    dev(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.variable);
  }
}

test('authentication bounds: defaults', () => {
  expect(dev()).toMatchObject({
    API_KEY_CACHE_MAX_KEYS: 10_000,
    API_KEY_CACHE_MAX_MISSES: 10_000,
    AUTH_FAILURE_BURST: 20,
    AUTH_FAILURE_RATE_PER_S: 1,
    AUTH_FAILURE_MAX_SOURCES: 100_000,
    AUTH_LOOKUP_CONCURRENCY: 8,
    AUTH_LOOKUP_QUEUE: 1000,
    API_TRUST_PROXY: false,
    TENANT_DISABLE_SWEEP_S: 30,
  });
});

test('API_TRUST_PROXY: false, true, a hop count, or a list of proxies; anything else refused by name', () => {
  expect(dev({ API_TRUST_PROXY: '' }).API_TRUST_PROXY).toBe(false);
  expect(dev({ API_TRUST_PROXY: 'true' }).API_TRUST_PROXY).toBe(true);
  expect(dev({ API_TRUST_PROXY: '2' }).API_TRUST_PROXY).toBe(2);
  expect(dev({ API_TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8,192.168.1.7' }).API_TRUST_PROXY).toEqual([
    'loopback',
    '10.0.0.0/8',
    'fd00::/8',
    '192.168.1.7',
  ]);
  for (const bad of ['yes', '10.0.0.0/33', 'fd00::/129', '10.0.0.1/8/1', 'proxy.local'])
    expect(invalidVariables({ API_TRUST_PROXY: bad })).toEqual(['API_TRUST_PROXY']);
});

test('authentication bounds: zero or non-numbers refused by name', () => {
  expect(invalidVariables({ AUTH_FAILURE_BURST: '0' })).toEqual(['AUTH_FAILURE_BURST']);
  expect(invalidVariables({ AUTH_FAILURE_RATE_PER_S: '0' })).toEqual(['AUTH_FAILURE_RATE_PER_S']);
  expect(invalidVariables({ AUTH_LOOKUP_CONCURRENCY: '0' })).toEqual(['AUTH_LOOKUP_CONCURRENCY']);
  expect(invalidVariables({ API_KEY_CACHE_MAX_MISSES: 'many' })).toEqual(['API_KEY_CACHE_MAX_MISSES']);
  expect(invalidVariables({ AUTH_LOOKUP_QUEUE: '-1' })).toEqual(['AUTH_LOOKUP_QUEUE']);
});

import { ConfigError, loadConfig } from '../../src/config/load-config';

test('defaults apply on an empty environment', () => {
  const cfg = loadConfig({});
  expect(cfg.API_PORT).toBe(8080);
  expect(cfg.MODEL_SERVICE_PORT).toBe(8090);
  expect(cfg.DEV_API_KEY).toBe('dev-demo-key');
  expect(cfg.ADMIN_TOKEN).toBe('dev-admin-token');
  expect(cfg.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/inference');
  expect(cfg.TEMPORAL_ADDRESS).toBeUndefined();
  expect(cfg.FAULT_API_ENABLED).toBe(true);
});

test('numbers and booleans are coerced; "false" is false', () => {
  const cfg = loadConfig({ API_PORT: '9000', FAULT_API_ENABLED: 'false', FAULT_RATE_503: '0.25' });
  expect(cfg.API_PORT).toBe(9000);
  expect(cfg.FAULT_API_ENABLED).toBe(false);
  expect(cfg.FAULT_RATE_503).toBe(0.25);
});

test('empty strings mean unset', () => {
  expect(loadConfig({ API_PORT: '', TEMPORAL_ADDRESS: '' }).API_PORT).toBe(8080);
});

test('every invalid variable is named', () => {
  try {
    loadConfig({ API_PORT: 'eighty', REDIS_URL: 'not a url', FAULT_API_ENABLED: 'maybe' });
    throw new Error('expected a ConfigError');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const vars = (err as ConfigError).issues.map((i) => i.variable).sort();
    expect(vars).toEqual(['API_PORT', 'FAULT_API_ENABLED', 'REDIS_URL']);
  }
});

test('cross-field rules: metrics ports differ, fault rates sum to at most 1', () => {
  expect(() => loadConfig({ ORCHESTRATION_METRICS_PORT: '9000', GPU_METRICS_PORT: '9000' })).toThrow(
    /GPU_METRICS_PORT/,
  );
  expect(() => loadConfig({ FAULT_RATE_500: '0.6', FAULT_RATE_503: '0.6' })).toThrow(/sum to at most 1/);
});

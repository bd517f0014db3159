import { ConfigError, loadConfig } from '../../src/config/load-config';

const dev = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

test('processes listen on all interfaces by default (containers); npm start binds to loopback', () => {
  const cfg = dev();
  expect(cfg.API_HOST).toBe('0.0.0.0');
  expect(cfg.METRICS_HOST).toBe('0.0.0.0');
  expect(cfg.MODEL_SERVICE_HOST).toBe('0.0.0.0');
  expect(cfg.CODEC_SERVER_HOST).toBe('0.0.0.0');
  expect(cfg.STACK_BIND_HOST).toBe('127.0.0.1');
  expect([cfg.STACK_TEMPORAL_PORT, cfg.STACK_TEMPORAL_UI_PORT, cfg.STACK_TEMPORAL_METRICS_PORT]).toEqual([
    7233, 8233, 9468,
  ]);
});

test('listen hosts and the stack ports are read from the environment', () => {
  const cfg = dev({
    STACK_BIND_HOST: '0.0.0.0',
    METRICS_HOST: '10.1.2.3',
    MODEL_SERVICE_HOST: '::1',
    STACK_TEMPORAL_PORT: '17233',
    STACK_TEMPORAL_UI_PORT: '18233',
    STACK_TEMPORAL_METRICS_PORT: '19468',
  });
  expect(cfg).toMatchObject({
    STACK_BIND_HOST: '0.0.0.0',
    METRICS_HOST: '10.1.2.3',
    MODEL_SERVICE_HOST: '::1',
    STACK_TEMPORAL_PORT: 17233,
    STACK_TEMPORAL_UI_PORT: 18233,
    STACK_TEMPORAL_METRICS_PORT: 19468,
  });
});

test('the model service admin token is unset by default and must be 16+ characters', () => {
  expect(dev().MODEL_SERVICE_ADMIN_TOKEN).toBeUndefined();
  expect(dev({ MODEL_SERVICE_ADMIN_TOKEN: 'a'.repeat(16) }).MODEL_SERVICE_ADMIN_TOKEN).toBe('a'.repeat(16));
  let err: unknown;
  try {
    dev({ MODEL_SERVICE_ADMIN_TOKEN: 'short', STACK_TEMPORAL_PORT: '0' });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
    'MODEL_SERVICE_ADMIN_TOKEN',
    'STACK_TEMPORAL_PORT',
  ]);
});

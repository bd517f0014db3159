import { loadConfig } from '../../src/config/load-config';

const dev = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

test('processes listen on all interfaces by default (containers)', () => {
  const cfg = dev();
  expect(cfg.API_HOST).toBe('0.0.0.0');
  expect(cfg.METRICS_HOST).toBe('0.0.0.0');
  expect(cfg.CODEC_SERVER_HOST).toBe('0.0.0.0');
});

test('listen hosts are read from the environment', () => {
  expect(dev({ METRICS_HOST: '10.1.2.3', API_HOST: '::1' })).toMatchObject({
    METRICS_HOST: '10.1.2.3',
    API_HOST: '::1',
  });
});

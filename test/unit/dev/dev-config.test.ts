import { ConfigError } from '../../../src/config/load-config';
import { envSchema } from '../../../src/config/schema';
import { devEnvSchema, loadDevConfig } from '../../../dev/config/schema';

/** The variables a ConfigError names, or [] when the environment is valid. */
function invalidVariables(env: Record<string, string>): string[] {
  try {
    loadDevConfig(env);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.variable).sort();
  }
}

test('defaults: the model service on all interfaces :8090 with its fault API on; the stack on loopback', () => {
  expect(loadDevConfig({})).toMatchObject({
    LOG_LEVEL: 'info',
    MODEL_SERVICE_HOST: '0.0.0.0',
    MODEL_SERVICE_PORT: 8090,
    MODEL_SERVICE_SLOTS: 8,
    MODEL_SERVICE_MODELS: 'ref-small,ref-large',
    FAULT_API_ENABLED: true,
    FAULT_RATE_503: 0,
    STACK_BIND_HOST: '127.0.0.1',
    STACK_TEMPORAL_PORT: 7233,
    STACK_TEMPORAL_UI_PORT: 8233,
    STACK_TEMPORAL_METRICS_PORT: 9468,
    STACK_BACKGROUND_NICE: 10,
    STACK_NODE_ARGS: [],
    STACK_COMPILED: false,
    TEMPORAL_CLI: 'temporal',
  });
  expect(loadDevConfig({}).MODEL_SERVICE_ADMIN_TOKEN).toBeUndefined();
});

test('values are read from the environment and coerced; empty strings mean unset', () => {
  expect(
    loadDevConfig({
      MODEL_SERVICE_HOST: '::1',
      MODEL_SERVICE_PORT: '18090',
      FAULT_API_ENABLED: 'false',
      FAULT_RATE_503: '0.25',
      STACK_BIND_HOST: '0.0.0.0',
      STACK_TEMPORAL_PORT: '17233',
      STACK_BACKGROUND_NICE: '0',
      STACK_NODE_ARGS: '--cpu-prof  --cpu-prof-dir=/tmp/prof',
      STACK_COMPILED: '1',
      TEMPORAL_CLI: '/opt/temporal',
      MODEL_SERVICE_ADMIN_TOKEN: 'a'.repeat(16),
      LOG_LEVEL: '',
    }),
  ).toMatchObject({
    MODEL_SERVICE_HOST: '::1',
    MODEL_SERVICE_PORT: 18090,
    FAULT_API_ENABLED: false,
    FAULT_RATE_503: 0.25,
    STACK_BIND_HOST: '0.0.0.0',
    STACK_TEMPORAL_PORT: 17233,
    STACK_BACKGROUND_NICE: 0,
    STACK_NODE_ARGS: ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'],
    STACK_COMPILED: true,
    TEMPORAL_CLI: '/opt/temporal',
    MODEL_SERVICE_ADMIN_TOKEN: 'a'.repeat(16),
    LOG_LEVEL: 'info',
  });
});

test('every invalid variable is named, and the fault rates sum to at most 1', () => {
  expect(
    invalidVariables({
      MODEL_SERVICE_ADMIN_TOKEN: 'short',
      STACK_TEMPORAL_PORT: '0',
      FAULT_API_ENABLED: 'maybe',
      STACK_COMPILED: 'perhaps',
    }),
  ).toEqual(['FAULT_API_ENABLED', 'MODEL_SERVICE_ADMIN_TOKEN', 'STACK_COMPILED', 'STACK_TEMPORAL_PORT']);
  for (const bad of ['20', '-1', '2.5', 'low'])
    expect(invalidVariables({ STACK_BACKGROUND_NICE: bad })).toEqual(['STACK_BACKGROUND_NICE']);
  expect(invalidVariables({ FAULT_RATE_500: '0.6', FAULT_RATE_503: '0.6' })).toEqual(['FAULT_RATE_500']);
  expect(() => loadDevConfig({ FAULT_RATE_500: '0.6', FAULT_RATE_503: '0.6' })).toThrow(/sum to at most 1/);
});

test('the product schema holds no dev setting, and the dev schema shares only LOG_LEVEL with it', () => {
  const product = Object.keys(envSchema.shape);
  expect(product.filter((k) => /^(MODEL_SERVICE_|FAULT_|STACK_|LOCAL_MODEL|LLAMA_)/.test(k))).toEqual([]);
  expect(Object.keys(devEnvSchema.shape).filter((k) => product.includes(k))).toEqual(['LOG_LEVEL']);
});

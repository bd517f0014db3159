import { envSchema } from '../../../src/config/schema';
import { devEnvSchema } from '../../../dev/config/schema';
import { hostPort, stackListenEnv } from '../../../dev/stack/stack-listen';

test('npm start sets every listen-address setting of both configs to STACK_BIND_HOST', () => {
  // Every *_HOST variable (the product's and the dev tools') is a listen address; one npm start did
  // not set would listen on 0.0.0.0.
  const hosts = [...Object.keys(envSchema.shape), ...Object.keys(devEnvSchema.shape)]
    .filter((k) => k.endsWith('_HOST') && k !== 'STACK_BIND_HOST')
    .sort();
  expect(hosts.length).toBeGreaterThanOrEqual(4);
  const env = stackListenEnv('127.0.0.1');
  expect(Object.keys(env).sort()).toEqual(hosts);
  expect(new Set(Object.values(env))).toEqual(new Set(['127.0.0.1']));
});

test('probe addresses: a wildcard bind is reached on loopback, IPv6 in brackets', () => {
  expect(hostPort('127.0.0.1', 8080)).toBe('127.0.0.1:8080');
  expect(hostPort('0.0.0.0', 8080)).toBe('127.0.0.1:8080');
  expect(hostPort('::', 8080)).toBe('[::1]:8080');
  expect(hostPort('fd00::2', 7233)).toBe('[fd00::2]:7233');
});

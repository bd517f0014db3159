import { randomBytes } from 'node:crypto';
import { createDataConverter, FAILURE_CONVERTER_PATH, payloadCodec } from '../../../src/codec/data-converter';
import { ConfigError, loadConfig } from '../../../src/config/load-config';

const STRONG_TOKEN = 'a3f9c1e07b5d4e2f8a6c9b0d1e2f3a4b5c6d7e8f';
const key = (): string => randomBytes(32).toString('base64');
const prod = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'production', ADMIN_TOKEN: STRONG_TOKEN, ...env });
const dev = (env: Record<string, string> = {}): ReturnType<typeof loadConfig> =>
  loadConfig({ APP_ENV: 'development', ...env });

/** The `variable: message` lines of the ConfigError that `load` throws. */
function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.variable}: ${i.message}`);
  }
  return [];
}

test('PAYLOAD_KEYS parses to ids and 32-byte keys; one key is the active one', () => {
  const k = key();
  const cfg = prod({ PAYLOAD_KEYS: `k1:${k}` });
  expect(cfg.PAYLOAD_KEYS).toEqual([{ id: 'k1', key: Buffer.from(k, 'base64') }]);
  expect(payloadCodec(cfg)).toBeDefined();
  expect(createDataConverter(cfg).payloadCodecs).toHaveLength(1);
});

test.each([
  [
    'a 16-byte key',
    () => `k1:${randomBytes(16).toString('base64')}`,
    /PAYLOAD_KEYS: key k1 must be 32 bytes.*it is 16 bytes/,
  ],
  ['a key that is not base64', () => 'k1:not*base64', /PAYLOAD_KEYS: key k1 must be 32 bytes.*not base64/],
  ['an entry without an id', () => key(), /PAYLOAD_KEYS: entry 1 must be <key id>:<base64 key>/],
  ['a duplicate id', () => `k1:${key()},k1:${key()}`, /PAYLOAD_KEYS: key id k1 appears more than once/],
])('a clear error for %s, naming the variable and never the key', (_name, value, message) => {
  const v = value();
  const lines = problems(() => dev({ PAYLOAD_KEYS: v }));
  expect(lines.join('\n')).toMatch(message);
  expect(lines.join('\n')).not.toContain(v.slice(3, 20));
});

test('PAYLOAD_ACTIVE_KEY_ID: required with several keys, must name one of them', () => {
  const keys = `k1:${key()},k2:${key()}`;
  expect(problems(() => dev({ PAYLOAD_KEYS: keys }))).toEqual([
    'PAYLOAD_ACTIVE_KEY_ID: is required when PAYLOAD_KEYS holds more than one key (k1, k2)',
  ]);
  expect(problems(() => dev({ PAYLOAD_KEYS: keys, PAYLOAD_ACTIVE_KEY_ID: 'k3' }))).toEqual([
    'PAYLOAD_ACTIVE_KEY_ID: must name a key in PAYLOAD_KEYS (k1, k2)',
  ]);
  expect(dev({ PAYLOAD_KEYS: keys, PAYLOAD_ACTIVE_KEY_ID: 'k2' }).PAYLOAD_ACTIVE_KEY_ID).toBe('k2');
});

test('secure by default: production without keys refuses to build a data converter', () => {
  const cfg = prod();
  expect(() => createDataConverter(cfg)).toThrow(ConfigError);
  expect(problems(() => createDataConverter(cfg))[0]).toMatch(
    /^PAYLOAD_KEYS: is required when APP_ENV=production.*PAYLOAD_ENCRYPTION=off/,
  );
  // The explicit opt-out, and development without keys: payloads in clear (no codec; the failure
  // converter still hands failure messages to the codec chain, which is empty).
  const inClear = { failureConverterPath: FAILURE_CONVERTER_PATH };
  expect(createDataConverter(prod({ PAYLOAD_ENCRYPTION: 'off' }))).toEqual(inClear);
  expect(createDataConverter(dev())).toEqual(inClear);
  expect(problems(() => dev({ PAYLOAD_ENCRYPTION: 'on' }))).toEqual([
    'PAYLOAD_KEYS: is required when PAYLOAD_ENCRYPTION=on',
  ]);
});

test('PAYLOAD_ENCRYPTION=off with keys decrypts old payloads but encrypts nothing new', async () => {
  const on = payloadCodec(dev({ PAYLOAD_KEYS: `k1:${key()}` }))!;
  const k = key();
  const before = payloadCodec(dev({ PAYLOAD_KEYS: `k1:${k}` }))!;
  const off = payloadCodec(dev({ PAYLOAD_KEYS: `k1:${k}`, PAYLOAD_ENCRYPTION: 'off' }))!;
  const p = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"x"') };
  expect(await off.encode([p])).toEqual([p]);
  expect(await off.decode(await before.encode([p]))).toEqual([p]);
  expect(on).toBeDefined();
});

test('CODEC_SERVER_TOKEN: weak tokens are refused outside development only', () => {
  expect(problems(() => prod({ PAYLOAD_ENCRYPTION: 'off', CODEC_SERVER_TOKEN: 'dev-codec-token' }))).toEqual([
    'CODEC_SERVER_TOKEN: is a development default or a template placeholder; set a real token (openssl rand -hex 32)',
  ]);
  expect(problems(() => prod({ CODEC_SERVER_TOKEN: 'short-token-123' }))[0]).toMatch(
    /CODEC_SERVER_TOKEN: must be at least 32 characters/,
  );
  expect(prod({ CODEC_SERVER_TOKEN: STRONG_TOKEN }).CODEC_SERVER_TOKEN).toBe(STRONG_TOKEN);
  expect(dev({ CODEC_SERVER_TOKEN: 'dev-codec-token' }).CODEC_SERVER_TOKEN).toBe('dev-codec-token');
  expect(dev().CODEC_CORS_ORIGINS).toEqual(['http://127.0.0.1:8233', 'http://localhost:8233']);
  expect(
    dev({ CODEC_CORS_ORIGINS: 'https://ui.example.com/, https://b.example' }).CODEC_CORS_ORIGINS,
  ).toEqual(['https://ui.example.com', 'https://b.example']);
});

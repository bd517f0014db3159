import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { AT_REST_STORES, createAtRestSealer, type AtRestSealer } from '../../../src/codec/at-rest-sealer';
import { CodecErrorType } from '../../../src/codec/encryption-codec';
import { isSealedPayload, type SealedPayload } from '../../../src/codec/payload-sealer';
import { loadConfig } from '../../../src/config/load-config';
import { createLogger } from '../../../src/observability/logger';

/**
 * The sealer of prompts and outputs at rest, built from the configuration as every process builds
 * it: the keys, active key and PAYLOAD_ENCRYPTION of Temporal history.
 */
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');
const silent = createLogger({ component: 'test', level: 'silent' });

function sealerOf(env: Record<string, string>): { sealer: AtRestSealer; registry: Registry } {
  const registry = new Registry();
  const cfg = loadConfig({ APP_ENV: 'development', ...env });
  return { sealer: createAtRestSealer(cfg, { registry, logger: silent }), registry };
}

const keyIdOf = (s: SealedPayload): string =>
  Buffer.from(s.metadata['encryption-key-id']!, 'base64').toString();
const clearReads = async (registry: Registry, store: string): Promise<number> =>
  (await registry.getSingleMetric('inference_at_rest_clear_reads_total')!.get()).values.find(
    (v) => v.labels.store === store,
  )?.value ?? 0;

const prompt = { requestId: 'req_1', prompt: 'the secret prompt' };

test('sealed under the active key, without the text in clear; opened back to the same value', async () => {
  const { sealer } = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` });
  const sealed = await sealer.seal(prompt);
  expect(isSealedPayload(sealed)).toBe(true);
  expect(JSON.stringify(sealed)).not.toContain('secret');
  expect(Buffer.from((sealed as SealedPayload).data, 'base64').toString('latin1')).not.toContain('secret');
  expect(keyIdOf(sealed as SealedPayload)).toBe('k1');
  expect(await sealer.open('idempotency_keys', sealed)).toEqual(prompt);
  // Strings (outputs, stream text) too.
  const text = await sealer.sealOrSkip('generated output');
  expect(await sealer.openColumns('requests', text!, null)).toBe('generated output');
});

test('rotation: a value sealed under the old key opens after the switch; new values use the new key', async () => {
  const before = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` }).sealer;
  const old = (await before.seal(prompt)) as SealedPayload;
  const after = sealerOf({ PAYLOAD_KEYS: `k1:${k1},k2:${k2}`, PAYLOAD_ACTIVE_KEY_ID: 'k2' }).sealer;
  expect(await after.open('batch_items', old)).toEqual(prompt);
  expect(keyIdOf((await after.seal(prompt)) as SealedPayload)).toBe('k2');
  // Once k1 is removed, what it sealed no longer opens: the error names the key.
  const withoutK1 = sealerOf({ PAYLOAD_KEYS: `k2:${k2}` }).sealer;
  await expect(withoutK1.open('batch_items', old)).rejects.toMatchObject({ type: CodecErrorType.UnknownKey });
});

test('a value written in clear by an earlier version is read as it is, and counted', async () => {
  const { sealer, registry } = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` });
  expect(await sealer.open('idempotency_keys', prompt)).toEqual(prompt);
  expect(await sealer.openColumns('requests', null, 'old output')).toBe('old output');
  expect(await sealer.openColumns('requests', null, null)).toBeNull();
  expect(await clearReads(registry, 'idempotency_keys')).toBe(1);
  expect(await clearReads(registry, 'requests')).toBe(1);
});

test('an altered sealed value does not open', async () => {
  const { sealer } = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` });
  const sealed = (await sealer.seal(prompt)) as SealedPayload;
  const data = Buffer.from(sealed.data, 'base64');
  data[20]! ^= 1;
  await expect(
    sealer.open('idempotency_keys', { ...sealed, data: data.toString('base64') }),
  ).rejects.toMatchObject({ type: CodecErrorType.DecryptFailed });
});

test('PAYLOAD_ENCRYPTION=off writes clear and still opens what the keys sealed before', async () => {
  const sealedBefore = (await sealerOf({ PAYLOAD_KEYS: `k1:${k1}` }).sealer.seal(prompt)) as SealedPayload;
  const { sealer, registry } = sealerOf({ PAYLOAD_KEYS: `k1:${k1}`, PAYLOAD_ENCRYPTION: 'off' });
  expect(sealer.encrypts).toBe(false);
  expect(await sealer.seal(prompt)).toEqual(prompt);
  expect(await sealer.sealOrSkip('text')).toBeUndefined();
  expect(await sealer.open('batch_items', sealedBefore)).toEqual(prompt);
  const gauge = await registry.getSingleMetric('inference_at_rest_encryption')!.get();
  expect(gauge.values.map((v) => v.value)).toEqual(AT_REST_STORES.map(() => 0));
});

test('the gauge says every store is encrypted when the keys are on', async () => {
  const { registry } = sealerOf({ PAYLOAD_KEYS: `k1:${k1}` });
  const gauge = await registry.getSingleMetric('inference_at_rest_encryption')!.get();
  expect(Object.fromEntries(gauge.values.map((v) => [v.labels.store, v.value]))).toEqual(
    Object.fromEntries(AT_REST_STORES.map((s) => [s, 1])),
  );
});

test('a clear value is never taken for a sealed one', () => {
  expect(isSealedPayload(prompt)).toBe(false);
  expect(isSealedPayload('text')).toBe(false);
  expect(isSealedPayload(null)).toBe(false);
  // A workflow input always has a request id; a sealed payload has exactly metadata and data.
  expect(isSealedPayload({ metadata: { encoding: 'x' }, data: '', requestId: 'r' })).toBe(false);
});

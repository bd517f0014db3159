import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../../src/codec/encryption-codec';
import { InputSealer } from '../../../src/inference/sealed-input';
import type { InferenceInput } from '../../../src/shared/types';

const input: InferenceInput = {
  requestId: 'req_sealed',
  tenantId: 't1',
  model: 'ref-small',
  prompt: 'a prompt that stays private',
  maxTokens: 8,
  promptTokens: 6,
  estimatedTokens: 14,
  acceptedAt: '2026-11-23T18:00:00.000Z',
  deadlineAt: '2026-11-23T19:00:00.000Z',
  gpuTaskQueue: 'gpu-small',
  modelCall: { timeoutMs: 10_000, maxAttempts: 4 },
  priority: { priorityKey: 3, fairnessKey: 't1' },
  admittedAtAccept: true,
};

const key = () => ({ id: 'k1', key: randomBytes(32) });
const sealerWith = (codecs: EncryptionCodec[]) =>
  new InputSealer({ payloadConverter: defaultPayloadConverter, payloadCodecs: codecs });

test('with the payload codec: sealed without the prompt in clear, opened to the same input', async () => {
  const sealer = sealerWith([new EncryptionCodec({ keys: [key()], activeKeyId: 'k1' })]);
  const sealed = await sealer.seal(input);
  expect(Buffer.from(sealed.data, 'base64').toString('latin1')).not.toContain('stays private');
  expect(JSON.stringify(sealed)).not.toContain('stays private');
  // Stored as JSON (jsonb): it must survive a round trip through text.
  expect(await sealer.open(JSON.parse(JSON.stringify(sealed)))).toEqual(input);
});

test('another key cannot open it', async () => {
  const sealed = await sealerWith([new EncryptionCodec({ keys: [key()], activeKeyId: 'k1' })]).seal(input);
  const other = sealerWith([new EncryptionCodec({ keys: [key()], activeKeyId: 'k1' })]);
  await expect(other.open(sealed)).rejects.toThrow();
});

test('without a codec (encryption off): the plain JSON payload, opened to the same input', async () => {
  const sealer = sealerWith([]);
  const sealed = await sealer.seal(input);
  expect(Buffer.from(sealed.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(sealed.data, 'base64').toString())).toEqual(input);
  expect(await sealer.open(sealed)).toEqual(input);
});

import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  CodecErrorType,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  KEY_ID_METADATA,
} from '../../../src/codec/encryption-codec';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const PROMPT = 'a secret prompt: the launch code is 0000';
const plain = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);
const text = (p: Payload): string => Buffer.from(p.data ?? []).toString();
const meta = (p: Payload, k: string): string => Buffer.from(p.metadata?.[k] ?? []).toString();

/** The failure a decode rejects with. */
async function decodeFailure(codec: EncryptionCodec, p: Payload): Promise<ApplicationFailure> {
  const err = await codec.decode([p]).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

test('round trip: the encoded payload hides data and encoding; decode restores it exactly', async () => {
  const codec = new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' });
  const input = [plain({ prompt: PROMPT }), plain(null), plain('')];
  const encoded = await codec.encode(input);
  for (const e of encoded) {
    expect(meta(e, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(meta(e, KEY_ID_METADATA)).toBe('k1');
    expect(text(e)).not.toContain('launch code');
    expect(text(e)).not.toContain('json/plain');
  }
  const decoded = await codec.decode(encoded);
  expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ prompt: PROMPT }, null, '']);
  expect(meta(decoded[0]!, 'encoding')).toBe('json/plain');
});

test('every payload gets a fresh IV: the same input encrypts differently each time', async () => {
  const codec = new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' });
  const [a, b] = await codec.encode([plain(PROMPT), plain(PROMPT)]);
  expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
});

test.each([
  ['a flipped ciphertext bit', (d: Buffer) => void (d[20] = d[20]! ^ 1)],
  ['a flipped IV bit', (d: Buffer) => void (d[0] = d[0]! ^ 1)],
  ['a flipped tag bit', (d: Buffer) => void (d[d.length - 1] = d[d.length - 1]! ^ 1)],
])('tampering is detected: %s', async (_name, tamper) => {
  const codec = new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' });
  const [e] = await codec.encode([plain({ prompt: PROMPT })]);
  const data = Buffer.from(e!.data!);
  tamper(data);
  const err = await decodeFailure(codec, { ...e!, data });
  expect(err.type).toBe(CodecErrorType.DecryptFailed);
  expect(err.nonRetryable).toBe(true);
});

test('truncated data and a payload relabelled to another known key are refused', async () => {
  const codec = new EncryptionCodec({ keys: [k1, k2], activeKeyId: 'k1' });
  const [e] = await codec.encode([plain(PROMPT)]);
  const short = { ...e!, data: Buffer.from(e!.data!).subarray(0, 20) };
  expect((await decodeFailure(codec, short)).type).toBe(CodecErrorType.DecryptFailed);
  const relabelled = { ...e!, metadata: { ...e!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
  expect((await decodeFailure(codec, relabelled)).type).toBe(CodecErrorType.DecryptFailed);
});

test('rotation: data encrypted with the old key still decodes after the active key changes', async () => {
  const before = new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' });
  const [old] = await before.encode([plain(PROMPT)]);
  // Step 1: k2 added everywhere, k1 still active. Step 2: k2 active.
  const after = new EncryptionCodec({ keys: [k1, k2], activeKeyId: 'k2' });
  const [fresh] = await after.encode([plain(PROMPT)]);
  expect(meta(fresh!, KEY_ID_METADATA)).toBe('k2');
  const decoded = await after.decode([old!, fresh!]);
  expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([PROMPT, PROMPT]);
});

test('payloads that are not encrypted pass through decode unchanged (histories from before)', async () => {
  const codec = new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' });
  const input = [plain({ prompt: PROMPT }), { metadata: {}, data: Buffer.from('raw') }, {}];
  expect(await codec.decode(input)).toEqual(input);
});

test('an unknown key id is a clear non-retryable error naming the id', async () => {
  const [e] = await new EncryptionCodec({ keys: [k2], activeKeyId: 'k2' }).encode([plain(PROMPT)]);
  const err = await decodeFailure(new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' }), e!);
  expect(err.type).toBe(CodecErrorType.UnknownKey);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(/key "k2", which is not in PAYLOAD_KEYS \(known: k1\)/);
});

test('without an active key, encode passes through and decode still uses the keys', async () => {
  const [e] = await new EncryptionCodec({ keys: [k1], activeKeyId: 'k1' }).encode([plain(PROMPT)]);
  const decryptOnly = new EncryptionCodec({ keys: [k1] });
  const p = plain(PROMPT);
  expect(await decryptOnly.encode([p])).toEqual([p]);
  expect(defaultPayloadConverter.fromPayload((await decryptOnly.decode([e!]))[0]!)).toBe(PROMPT);
  expect(() => new EncryptionCodec({ keys: [k1], activeKeyId: 'k9' })).toThrow(/k9/);
});

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { PayloadKey } from './payload-keys';

/** `metadata.encoding` of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata entry naming the key that encrypted a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';

/** `ApplicationFailure.type` of the codec's failures: neither is fixed by retrying. */
export const CodecErrorType = {
  /** The payload names a key this process does not have (PAYLOAD_KEYS lacks it). */
  UnknownKey: 'payload_key_unknown',
  /** The payload does not authenticate under its key: altered, truncated or a wrong key. */
  DecryptFailed: 'payload_decrypt_failed',
} as const;

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const { Payload: PayloadProto } = temporal.api.common.v1;

/** `fn`'s result as a promise, its throw as a rejection (the codec's work is synchronous). */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

/** Options for {@link EncryptionCodec}. */
export interface EncryptionCodecOptions {
  /** Every key that may decrypt. */
  keys: PayloadKey[];
  /** Id of the key that encrypts; unset: `encode` leaves payloads as they are (decrypt only). */
  activeKeyId?: string;
}

/**
 * AES-256-GCM over the whole serialized Payload (metadata included, so the encoding is hidden too).
 * Data is `iv (12) | ciphertext | tag (16)`, a fresh random IV per payload, and the key id is
 * authenticated as additional data so a payload cannot be relabelled to another key. Payloads that
 * are not encrypted (histories from before encryption) decode unchanged.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly active?: { id: string; key: Buffer };

  constructor(opts: EncryptionCodecOptions) {
    this.keys = new Map(opts.keys.map((k) => [k.id, k.key]));
    if (opts.activeKeyId !== undefined) {
      const key = this.keys.get(opts.activeKeyId);
      if (!key) throw new Error(`active payload key ${opts.activeKeyId} is not among the keys`);
      this.active = { id: opts.activeKeyId, key };
    }
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const active = this.active;
    if (!active) return Promise.resolve(payloads);
    return settle(() =>
      payloads.map((p) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv(ALGORITHM, active.key, iv, { authTagLength: TAG_BYTES });
        cipher.setAAD(Buffer.from(active.id));
        const plain = PayloadProto.encode(p).finish();
        const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            encoding: Buffer.from(ENCRYPTED_ENCODING),
            [KEY_ID_METADATA]: Buffer.from(active.id),
          },
          data,
        };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => payloads.map((p) => this.decodeOne(p)));
  }

  private decodeOne(p: Payload): Payload {
    const encoding = p.metadata?.encoding;
    if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return p;
    const keyId = Buffer.from(p.metadata?.[KEY_ID_METADATA] ?? []).toString();
    const key = this.keys.get(keyId);
    if (!key) {
      throw ApplicationFailure.create({
        type: CodecErrorType.UnknownKey,
        nonRetryable: true,
        message: `payload encrypted with key "${keyId}", which is not in PAYLOAD_KEYS (known: ${[...this.keys.keys()].join(', ') || 'none'})`,
      });
    }
    const data = Buffer.from(p.data ?? []);
    try {
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const { metadata, data: inner } = PayloadProto.decode(plain);
      // A plain object, not the protobuf message class: the same shape every other payload has.
      return { metadata: { ...metadata }, data: inner };
    } catch {
      throw ApplicationFailure.create({
        type: CodecErrorType.DecryptFailed,
        nonRetryable: true,
        message: `payload encrypted with key "${keyId}" does not authenticate: altered or truncated`,
      });
    }
  }
}

import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from './json-payload';

/**
 * A value as a store keeps it sealed: the Temporal payload the data converter makes of it (encrypted
 * when payload encryption is on), in JSON.
 */
export type SealedPayload = JsonPayload;

/** The converter a sealer uses: a Temporal client's own, or one built from the configuration. */
export type SealingConverter = Pick<LoadedDataConverter, 'payloadConverter' | 'payloadCodecs'>;

/** Whether a stored JSON value is a sealed payload (and not a value written in clear). */
export function isSealedPayload(v: unknown): v is SealedPayload {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<Record<keyof SealedPayload, unknown>>;
  return (
    Object.keys(v).length === 2 &&
    typeof p.data === 'string' &&
    typeof p.metadata === 'object' &&
    p.metadata !== null &&
    typeof (p.metadata as Record<string, unknown>).encoding === 'string'
  );
}

/**
 * Seals and opens values with a data converter's payload converter and codecs (the payload codec
 * of Temporal history: AES-256-GCM under PAYLOAD_ACTIVE_KEY_ID, any PAYLOAD_KEYS id decrypts), so a
 * value at rest in PostgreSQL or Redis is exactly as it would be in Temporal's history.
 */
export class PayloadSealer {
  constructor(private readonly converter: SealingConverter) {}

  async seal(value: unknown): Promise<SealedPayload> {
    let payloads: Payload[] = [this.converter.payloadConverter.toPayload(value)];
    for (const codec of this.converter.payloadCodecs) payloads = await codec.encode(payloads);
    return payloadToJson(payloads[0]!);
  }

  async open<T>(sealed: SealedPayload): Promise<T> {
    let payloads: Payload[] = [payloadFromJson(sealed)];
    for (const codec of [...this.converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
    return this.converter.payloadConverter.fromPayload<T>(payloads[0]!);
  }
}

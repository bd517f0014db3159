import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { payloadFromJson, payloadToJson, type JsonPayload } from '../codec/json-payload';
import type { InferenceInput } from '../shared/types';

/**
 * A workflow input as the outbox of starts keeps it until its workflow starts: the Temporal payload
 * the data converter makes of it (encrypted when payload encryption is on), in JSON.
 */
export type SealedInput = JsonPayload;

/**
 * Seals and opens workflow inputs with the Temporal client's own data converter, so a prompt is
 * at rest in PostgreSQL exactly as it would be in Temporal's history.
 */
export class InputSealer {
  constructor(private readonly converter: Pick<LoadedDataConverter, 'payloadConverter' | 'payloadCodecs'>) {}

  async seal(input: InferenceInput): Promise<SealedInput> {
    let payloads: Payload[] = [this.converter.payloadConverter.toPayload(input)];
    for (const codec of this.converter.payloadCodecs) payloads = await codec.encode(payloads);
    return payloadToJson(payloads[0]!);
  }

  async open(sealed: SealedInput): Promise<InferenceInput> {
    let payloads: Payload[] = [payloadFromJson(sealed)];
    for (const codec of [...this.converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
    return this.converter.payloadConverter.fromPayload<InferenceInput>(payloads[0]!);
  }
}

import { PayloadSealer, type SealedPayload, type SealingConverter } from '../codec/payload-sealer';
import type { InferenceInput } from '../shared/types';

/**
 * A workflow input as the outbox of starts keeps it until its workflow starts: the Temporal payload
 * the data converter makes of it (encrypted when payload encryption is on), in JSON.
 */
export type SealedInput = SealedPayload;

/**
 * Seals and opens workflow inputs with the Temporal client's own data converter, so a prompt is
 * at rest in PostgreSQL exactly as it would be in Temporal's history.
 */
export class InputSealer {
  private readonly payloads: PayloadSealer;

  constructor(converter: SealingConverter) {
    this.payloads = new PayloadSealer(converter);
  }

  seal(input: InferenceInput): Promise<SealedInput> {
    return this.payloads.seal(input);
  }

  open(sealed: SealedInput): Promise<InferenceInput> {
    return this.payloads.open<InferenceInput>(sealed);
  }
}

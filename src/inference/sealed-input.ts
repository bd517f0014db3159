import { PayloadSealer, type SealingConverter } from '../codec/payload-sealer';
import type { SealedInput } from '../requests/requests-repo';
import type { InferenceInput } from '../shared/types';

export type { SealedInput };

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

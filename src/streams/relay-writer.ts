import type { RelayEvent, TokenRelay } from './token-relay';

/**
 * Writes one model attempt's events to the relay without slowing the model call: the first piece
 * goes out at once (time to first token), and pieces that arrive while a write is in flight are
 * batched into the next one, so a fast stream costs a few XADDs per round trip, not one per token.
 * A relay failure never fails the call: it is reported through `onError` and the rest is dropped
 * (PostgreSQL keeps the output; the stream is a convenience for watching it live).
 */
export class RelayWriter {
  private pending: RelayEvent[] = [];
  private inFlight: Promise<void> | undefined;
  private broken = false;

  constructor(
    private readonly relay: TokenRelay,
    private readonly requestId: string,
    private readonly attempt: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.push({ type: 'attempt', attempt });
  }

  text(piece: string): void {
    const last = this.pending[this.pending.length - 1];
    if (last?.type === 'text') last.text += piece;
    else this.push({ type: 'text', attempt: this.attempt, text: piece });
  }

  /** Sends what is pending plus `end`, and waits for every write. */
  async end(finishReason: string): Promise<void> {
    this.push({ type: 'end', attempt: this.attempt, finishReason });
    while (this.inFlight) await this.inFlight;
  }

  private push(e: RelayEvent): void {
    if (this.broken) return;
    this.pending.push(e);
    if (!this.inFlight) this.flush();
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.inFlight = this.relay
      .append(this.requestId, batch)
      .catch((err: unknown) => {
        this.broken = true;
        this.pending = [];
        this.onError(err);
      })
      .finally(() => {
        this.inFlight = undefined;
        if (this.pending.length > 0) this.flush();
      });
  }
}

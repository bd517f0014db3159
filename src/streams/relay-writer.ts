import type { RelayEvent, TokenRelay } from './token-relay';

/** Options of {@link RelayWriter}. */
export interface RelayWriterOptions {
  /** Least time between the starts of two writes that carry text. @default 0 */
  intervalMs?: number;
  /** Called at each write (one XADD pipeline), e.g. to count them. */
  onWrite?: () => void;
  /** The attempt's opening entry is already written (a continuing attempt writes it first). */
  opened?: boolean;
}

/**
 * Writes one model attempt's events to the relay without slowing the model call: the first piece
 * goes out at once (time to first token), with the attempt's opening entry if that is still
 * waiting (it waits at most `intervalMs`); after a write that carried text, the next one waits until
 * `intervalMs` after it started, and pieces that arrive meanwhile (or while a write is in flight) are
 * batched into it, so a fast stream costs one XADD per interval, not one per token. The attempt's
 * end is written at once. A relay failure never fails the call: it is reported through `onError`
 * and the rest is dropped (PostgreSQL keeps the output; the stream is a convenience for watching
 * it live).
 */
export class RelayWriter {
  private pending: RelayEvent[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Earliest time the next write may start, unless it ends the attempt or carries its first text. */
  private nextAt: number;
  private textWritten = false;
  private ending = false;
  private broken = false;

  constructor(
    private readonly relay: TokenRelay,
    private readonly requestId: string,
    private readonly attempt: number,
    private readonly onError: (err: unknown) => void,
    private readonly o: RelayWriterOptions = {},
  ) {
    this.nextAt = Date.now() + (o.intervalMs ?? 0);
    if (!o.opened) this.push({ type: 'attempt', attempt });
  }

  text(piece: string): void {
    const last = this.pending[this.pending.length - 1];
    if (last?.type === 'text') last.text += piece;
    else this.push({ type: 'text', attempt: this.attempt, text: piece });
  }

  /** Opens the attempt again without continuing: readers discard the text shown so far. */
  restart(): void {
    this.push({ type: 'attempt', attempt: this.attempt });
  }

  /** Sends what is pending plus `end` at once, and waits for every write. */
  async end(finishReason: string, stopReason?: string): Promise<void> {
    this.ending = true;
    this.push({ type: 'end', attempt: this.attempt, finishReason, ...(stopReason ? { stopReason } : {}) });
    while (this.inFlight) await this.inFlight;
  }

  private push(e: RelayEvent): void {
    if (this.broken) return;
    this.pending.push(e);
    this.schedule();
  }

  /** Starts the next write now, or once the interval allows (one timer at a time). */
  private schedule(): void {
    if (this.inFlight || this.pending.length === 0) return;
    const firstText = !this.textWritten && this.pending.some((e) => e.type === 'text');
    const wait = this.ending || firstText ? 0 : this.nextAt - Date.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.some((e) => e.type === 'text')) {
      this.textWritten = true;
      this.nextAt = Date.now() + (this.o.intervalMs ?? 0);
    }
    this.o.onWrite?.();
    this.inFlight = this.relay
      .append(this.requestId, batch)
      .catch((err: unknown) => {
        this.broken = true;
        this.pending = [];
        this.onError(err);
      })
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }
}

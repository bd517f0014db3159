/**
 * Drops an echo of a prefilled answer at the start of a continuation's stream: llama.cpp's server,
 * asked to continue a trailing assistant message without `continue_final_message` (its assistant
 * prefill), streams the prefilled text again in its first delta. Text that does not begin with the
 * prefill passes through; a piece that could still be the echo's start is held until it cannot.
 */
export class PrefillEcho {
  private pending = '';
  private done: boolean;

  constructor(private readonly prefill: string) {
    this.done = prefill === '';
  }

  /** The new text in `piece` ('' while it may still be the echo). */
  push(piece: string): string {
    if (this.done) return piece;
    this.pending += piece;
    if (this.pending.length >= this.prefill.length) {
      this.done = true;
      return this.pending.startsWith(this.prefill) ? this.pending.slice(this.prefill.length) : this.pending;
    }
    if (this.prefill.startsWith(this.pending)) return '';
    this.done = true;
    return this.pending;
  }

  /** At the end of the stream: text held back that turned out not to be a whole echo. */
  flush(): string {
    if (this.done) return '';
    this.done = true;
    return this.pending;
  }
}

import type { RelayEvent } from './token-relay';

/** What a reader does with one relay event (see {@link StreamText.apply}). */
export interface StreamStep {
  /** Text to show after what was shown. */
  show?: string;
  /** The text shown so far is void: an attempt starts the answer again (no continuation). */
  restart?: boolean;
}

/**
 * The text a request's token stream shows, event by event, the same way for every reader (native
 * SSE, OpenAI streams) and for the GPU worker that continues a cut-short answer: an attempt that
 * `continues` extends the text shown so far; one that does not (an adapter that cannot continue)
 * starts it again; text of an attempt older than the newest one (a worker that was timed out but
 * still writes) is dropped, so it never interleaves with its successor's.
 */
export class StreamText {
  private attempt = 0;
  private shown = '';

  constructor(private readonly keep = false) {}

  /** The text shown so far (kept only when constructed with `keep`). */
  get text(): string {
    return this.shown;
  }

  /** The newest attempt seen. */
  get currentAttempt(): number {
    return this.attempt;
  }

  apply(e: RelayEvent): StreamStep {
    if (e.type === 'attempt') {
      if (e.attempt < this.attempt) return {};
      this.attempt = e.attempt;
      if (e.attempt > 1 && !e.continues) {
        this.shown = '';
        return { restart: true };
      }
      return {};
    }
    if (e.type === 'text') {
      if (e.attempt < this.attempt) return {};
      this.attempt = e.attempt;
      if (this.keep) this.shown += e.text;
      return { show: e.text };
    }
    return {};
  }
}

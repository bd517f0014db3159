import { StreamText } from '../../streams/stream-text';
import type { RelayEvent } from '../../streams/token-relay';
import {
  outputItem,
  outputItemId,
  outputPart,
  responseObject,
  type ResponseHead,
  type ResponseStatus,
} from './response-format';
import type { RequestRecord } from '../../requests/requests-repo';

/** One Responses stream event, as OpenAI sends it (`type`, `sequence_number`, its fields). */
export type ResponseStreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;

const TERMINAL_EVENT: Record<string, string> = {
  completed: 'response.completed',
  incomplete: 'response.incomplete',
  failed: 'response.failed',
  cancelled: 'response.cancelled',
};

/**
 * Turns a request's token-relay entries into the Responses stream events, numbering them as it goes.
 * A pure function of the response's head (its row) and the relay's entries in order, with the
 * request's row at the end: every API replica that replays the same stream from its first entry
 * makes the same events with the same `sequence_number`s, so a client resuming with
 * `starting_after=N` gets exactly the events after N, from any replica, and no replica keeps state.
 *
 * - `response.created` (and `response.queued` for a background response, which starts queued);
 *   a foreground one is `in_progress` at once;
 * - `response.in_progress` when the first model attempt starts (background);
 * - `response.output_item.added` and `response.content_part.added` before the first text, then one
 *   `response.output_text.delta` per relay text entry (a batch of tokens);
 * - a model attempt retried after text was sent (a GPU worker lost mid-response) continues the
 *   text where the model can continue an answer; where it cannot, `response.output_text.restarted`
 *   says the text of the content part so far is void (not an OpenAI event; the `done` events carry
 *   the stored text, which is the last attempt's);
 * - at the end, with the stored row: `response.output_text.done`, `response.content_part.done`,
 *   `response.output_item.done` (when there is output), then `response.completed`,
 *   `response.incomplete`, `response.failed` or `response.cancelled` with the whole response.
 */
export class ResponseEventSequence {
  private seq = 0;
  private inProgress: boolean;
  private itemOpen = false;
  private sentText = false;
  private readonly text = new StreamText();

  constructor(private readonly head: ResponseHead) {
    this.inProgress = !head.background;
  }

  /** The first events: created, then queued (background) or in_progress (foreground). */
  start(): ResponseStreamEvent[] {
    const first: ResponseStatus = this.head.background ? 'queued' : 'in_progress';
    const snapshot = responseObject(this.head, first);
    return [
      this.event('response.created', { response: snapshot }),
      this.event(this.head.background ? 'response.queued' : 'response.in_progress', { response: snapshot }),
    ];
  }

  /**
   * The events of one relay entry other than `final` (see {@link end}), read as every stream reader
   * reads the relay ({@link StreamText}): a retried attempt that continues the answer extends it, one
   * that does not starts it again, and text of a superseded attempt is dropped.
   */
  entry(e: Exclude<RelayEvent, { type: 'final' }>): ResponseStreamEvent[] {
    const out: ResponseStreamEvent[] = [];
    if (e.type === 'end') return out;
    this.markInProgress(out);
    const step = this.text.apply(e);
    if (step.restart && this.sentText) {
      out.push(
        this.event('response.output_text.restarted', {
          ...this.at(),
          attempt: (e as { attempt: number }).attempt,
        }),
      );
      this.sentText = false;
    }
    if (step.show !== undefined) {
      this.openItem(out);
      out.push(this.event('response.output_text.delta', { ...this.at(), delta: step.show, logprobs: [] }));
      this.sentText = true;
    }
    return out;
  }

  /** The closing events, from the terminal request row (`status`: the response's). */
  end(status: ResponseStatus, row: RequestRecord | undefined): ResponseStreamEvent[] {
    const out: ResponseStreamEvent[] = [];
    const text = row?.output ?? null;
    if (text !== null && (this.itemOpen || text !== '')) {
      this.markInProgress(out);
      const wasOpen = this.itemOpen;
      this.openItem(out);
      // No text came through the relay (expired, or lost): the stored text as one delta.
      if (!wasOpen && text !== '') {
        out.push(this.event('response.output_text.delta', { ...this.at(), delta: text, logprobs: [] }));
      }
      const part = outputPart(text);
      out.push(this.event('response.output_text.done', { ...this.at(), text, logprobs: [] }));
      out.push(this.event('response.content_part.done', { ...this.at(), part }));
      const item = outputItem(this.head.id, text, status === 'completed' ? 'completed' : 'incomplete');
      out.push(this.event('response.output_item.done', { output_index: 0, item }));
    }
    out.push(
      this.event(TERMINAL_EVENT[status] ?? 'response.failed', {
        response: responseObject(this.head, status, row),
      }),
    );
    return out;
  }

  private markInProgress(out: ResponseStreamEvent[]): void {
    if (this.inProgress) return;
    this.inProgress = true;
    out.push(this.event('response.in_progress', { response: responseObject(this.head, 'in_progress') }));
  }

  private openItem(out: ResponseStreamEvent[]): void {
    if (this.itemOpen) return;
    this.itemOpen = true;
    out.push(
      this.event('response.output_item.added', {
        output_index: 0,
        item: outputItem(this.head.id, '', 'in_progress'),
      }),
    );
    out.push(this.event('response.content_part.added', { ...this.at(), part: outputPart('') }));
  }

  private at(): Record<string, unknown> {
    return { item_id: outputItemId(this.head.id), output_index: 0, content_index: 0 };
  }

  private event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }
}

import {
  ResponseEventSequence,
  type ResponseStreamEvent,
} from '../../../src/openai/responses/response-events';
import type { ResponseHead } from '../../../src/openai/responses/response-format';
import { responseStatusOf } from '../../../src/openai/responses/response-format';
import type { RequestRecord } from '../../../src/requests/requests-repo';
import type { RelayEvent } from '../../../src/streams/token-relay';

/**
 * The Responses stream events are a pure function of the response's head and its relay entries:
 * replaying the same entries gives the same numbered events (a resume on any replica).
 */
const head = (background: boolean): ResponseHead => ({
  id: 'inf_0123456789abcdef0123456789abcdef',
  model: 'm',
  createdAt: 1_800_000_000,
  background,
  store: true,
  request: { instructions: null, input: [], max_output_tokens: 16, temperature: null, top_p: null },
  metadata: {},
});

const row = (over: Partial<RequestRecord>): RequestRecord => ({
  id: 'inf_0123456789abcdef0123456789abcdef',
  tenantId: 't',
  model: 'm',
  status: 'completed',
  maxTokens: 16,
  promptTokens: 3,
  estimatedTokens: 19,
  output: 'Hello world',
  finishReason: 'stop',
  stopReason: null,
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  attempts: 1,
  lastError: null,
  error: null,
  acceptedAt: new Date(),
  createdAt: new Date(),
  startedAt: new Date(),
  completedAt: new Date(1_800_000_010_000),
  ...over,
});

type Entry = Exclude<RelayEvent, { type: 'final' }>;

function run(h: ResponseHead, entries: Entry[], end: RequestRecord): ResponseStreamEvent[] {
  const seq = new ResponseEventSequence(h);
  return [...seq.start(), ...entries.flatMap((e) => seq.entry(e)), ...seq.end(responseStatusOf(end), end)];
}

const types = (events: ResponseStreamEvent[]): string[] => events.map((e) => e.type);
const deltas = (events: ResponseStreamEvent[]): string =>
  events
    .filter((e) => e.type === 'response.output_text.delta')
    .map((e) => e.delta as string)
    .join('');

const entries: Entry[] = [
  { type: 'attempt', attempt: 1 },
  { type: 'text', attempt: 1, text: 'Hello' },
  { type: 'text', attempt: 1, text: ' world' },
  { type: 'end', attempt: 1, finishReason: 'stop' },
];

test('background: created, queued, in_progress at the first attempt, then the output events; contiguous', () => {
  const events = run(head(true), entries, row({}));
  expect(types(events)).toEqual([
    'response.created',
    'response.queued',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  expect(deltas(events)).toBe('Hello world');
  expect(events[0]).toMatchObject({ response: { status: 'queued', output: [], usage: null } });
  expect(events[events.length - 1]).toMatchObject({
    response: {
      status: 'completed',
      usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
      output: [
        { type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello world' }] },
      ],
    },
  });
  // The same entries give the same events: what a resume on another replica relies on.
  expect(run(head(true), entries, row({}))).toEqual(events);
});

test('foreground: created then in_progress at once; a length-limited end is response.incomplete', () => {
  const events = run(head(false), entries, row({ finishReason: 'length' }));
  expect(types(events).slice(0, 3)).toEqual([
    'response.created',
    'response.in_progress',
    'response.output_item.added',
  ]);
  expect(events.filter((e) => e.type === 'response.in_progress')).toHaveLength(1);
  expect(events[events.length - 1]).toMatchObject({
    type: 'response.incomplete',
    response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
  });
  expect(events.find((e) => e.type === 'response.output_item.done')).toMatchObject({
    item: { status: 'incomplete' },
  });
});

test('cancelled while queued: no output events, straight to response.cancelled', () => {
  const events = run(head(true), [], row({ status: 'cancelled', output: null, usage: null }));
  expect(types(events)).toEqual(['response.created', 'response.queued', 'response.cancelled']);
  expect(events[2]).toMatchObject({ response: { status: 'cancelled', usage: null, output: [] } });
});

test('a relay without text (expired or lost): the stored text as one delta; failed carries its error', () => {
  const events = run(head(true), [], row({}));
  expect(deltas(events)).toBe('Hello world');
  expect(types(events)).toContain('response.in_progress');
  const failed = run(
    head(true),
    [{ type: 'attempt', attempt: 1 }],
    row({
      status: 'failed',
      output: null,
      usage: null,
      error: { type: 'model_unavailable', message: 'down' },
    }),
  );
  expect(failed[failed.length - 1]).toMatchObject({
    type: 'response.failed',
    response: { status: 'failed', error: { code: 'model_unavailable', message: 'down' } },
  });
});

test("a retried attempt that continues the answer extends the text; a superseded attempt's text is dropped", () => {
  const events = run(
    head(false),
    [
      { type: 'attempt', attempt: 1 },
      { type: 'text', attempt: 1, text: 'Hello' },
      { type: 'attempt', attempt: 2, continues: true },
      { type: 'text', attempt: 1, text: ' stale' },
      { type: 'text', attempt: 2, text: ' world' },
    ],
    row({ attempts: 2 }),
  );
  expect(types(events)).not.toContain('response.output_text.restarted');
  expect(deltas(events)).toBe('Hello world');
});

test('a retried attempt that does not continue, after text, says so; done carries the stored text', () => {
  const events = run(
    head(false),
    [
      { type: 'attempt', attempt: 1 },
      { type: 'text', attempt: 1, text: 'Hel' },
      { type: 'attempt', attempt: 2 },
      { type: 'text', attempt: 2, text: 'Hello world' },
    ],
    row({ attempts: 2 }),
  );
  const restarted = events.findIndex((e) => e.type === 'response.output_text.restarted');
  expect(restarted).toBeGreaterThan(0);
  expect(events[restarted]).toMatchObject({ attempt: 2, content_index: 0 });
  expect(deltas(events.slice(restarted))).toBe('Hello world');
  expect(events.find((e) => e.type === 'response.output_text.done')).toMatchObject({ text: 'Hello world' });
});
